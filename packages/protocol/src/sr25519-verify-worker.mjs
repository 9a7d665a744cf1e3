// Worker thread of SignatureVerifierPool: sr25519 verification with exactly signature.ts's verifySignatureBytes
// semantics (raw message, then <Bytes>-wrapped; any throw is a mismatch), on the same @polkadot/wasm-crypto backend.
// Plain JavaScript so it starts without a TypeScript loader (and bundles as its own entry).
import { parentPort } from "node:worker_threads";
import { isReady, sr25519Verify, waitReady } from "@polkadot/wasm-crypto";

const BYTES_OPEN = new TextEncoder().encode("<Bytes>");
const BYTES_CLOSE = new TextEncoder().encode("</Bytes>");

function attempt(message, signature, publicKey) {
  try {
    return sr25519Verify(signature, message, publicKey); // signature first, as wasm-crypto orders them
  } catch {
    return false;
  }
}

function wrapped(message) {
  const out = new Uint8Array(BYTES_OPEN.length + message.length + BYTES_CLOSE.length);
  out.set(BYTES_OPEN, 0);
  out.set(message, BYTES_OPEN.length);
  out.set(BYTES_CLOSE, BYTES_OPEN.length + message.length);
  return out;
}

await waitReady();
// A worker that cannot check signatures must not answer "mismatch" to every request: exit, the pool reports it.
if (!isReady()) throw new Error("@polkadot/wasm-crypto could not be initialized in the verifier worker");
parentPort.on("message", ({ id, message, signature, publicKey }) => {
  const ok = attempt(message, signature, publicKey) || attempt(wrapped(message), signature, publicKey);
  parentPort.postMessage({ id, ok });
});
parentPort.postMessage({ ready: true });
