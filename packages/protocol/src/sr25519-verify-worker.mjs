// Worker thread of SignatureVerifierPool: sr25519 verification with exactly signature.ts's verifySignatureBytes
// semantics (raw message, then <Bytes>-wrapped; any throw is a mismatch). Plain JavaScript so it starts without a
// TypeScript loader (and bundles as its own entry).
import { parentPort } from "node:worker_threads";
import { cryptoWaitReady, sr25519Verify } from "@polkadot/util-crypto";

const BYTES_OPEN = new TextEncoder().encode("<Bytes>");
const BYTES_CLOSE = new TextEncoder().encode("</Bytes>");

function attempt(message, signature, publicKey) {
  try {
    return sr25519Verify(message, signature, publicKey);
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

await cryptoWaitReady();
parentPort.on("message", ({ id, message, signature, publicKey }) => {
  const ok = attempt(message, signature, publicKey) || attempt(wrapped(message), signature, publicKey);
  parentPort.postMessage({ id, ok });
});
parentPort.postMessage({ ready: true });
