// sr25519 signature checks with btwallet's `Keypair.verify` semantics (docs/protocol.md, "Signature").
// The curve arithmetic is @polkadot/wasm-crypto's (schnorrkel compiled to WASM, ~0.3 ms a check):
// @polkadot/util-crypto 14's sr25519Verify is the pure-JavaScript @scure/sr25519 (~3 ms). Both give the same verdict
// (test/signature.test.ts cross-checks them); signing may stay on util-crypto.

import { cryptoWaitReady, decodeAddress, encodeAddress } from "@polkadot/util-crypto";
import { isReady, waitReady, sr25519Verify as wasmSr25519Verify } from "@polkadot/wasm-crypto";

const BYTES_OPEN = new TextEncoder().encode("<Bytes>");
const BYTES_CLOSE = new TextEncoder().encode("</Bytes>");
const SS58_RE = /^[1-9A-HJ-NP-Za-km-z]{46,48}$/;
const HEX_DIGIT = /[0-9a-fA-F]/;

let ready: Promise<void> | undefined;

/** Loads the sr25519 WASM backend once; await it before the first verify or sign. Throws if it cannot load. */
export function ensureCryptoReady(): Promise<void> {
  ready ??= Promise.all([waitReady(), cryptoWaitReady()]).then(() => {
    // Without it every check would fail closed (401 for every validator): refuse to start instead.
    if (!isReady())
      throw new Error("@polkadot/wasm-crypto could not be initialized: sr25519 signatures cannot be checked");
  });
  return ready;
}

/** A signature string rejected before any curve arithmetic, with btwallet's message. */
export class SignatureFormatError extends Error {
  override readonly name = "SignatureFormatError";
}

/**
 * btwallet `Keypair.verify` decoding: the string must start with "0x"; every leading "0x" is stripped; the rest is
 * hex (either case, errors worded like Rust's `hex::FromHexError` Debug form); the result must be 64 bytes.
 */
export function decodeSignatureHex(signature: string): Uint8Array {
  if (!signature.startsWith("0x")) throw new SignatureFormatError("Invalid signature format. Expected hex string.");
  let hex = signature;
  while (hex.startsWith("0x")) hex = hex.slice(2);
  if (hex.length % 2 !== 0) throw new SignatureFormatError("Invalid hex string: OddLength");
  for (let i = 0; i < hex.length; i++) {
    const c = hex[i]!;
    if (!HEX_DIGIT.test(c)) {
      throw new SignatureFormatError(`Invalid hex string: InvalidHexCharacter { c: ${rustCharDebug(c)}, index: ${i} }`);
    }
  }
  if (hex.length !== 128) throw new SignatureFormatError("Invalid signature");
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

function rustCharDebug(c: string): string {
  if (c === "'" || c === "\\") return `'\\${c}'`;
  const code = c.codePointAt(0)!;
  if (code >= 0x20 && code < 0x7f) return `'${c}'`;
  return `'\\u{${code.toString(16)}}'`;
}

/** Public key of a canonical prefix-42 ss58 address, or undefined (hex keys and other prefixes are refused). */
export function publicKeyOf(ss58: string): Uint8Array | undefined {
  if (!SS58_RE.test(ss58)) return undefined;
  try {
    const pk = decodeAddress(ss58, false, 42);
    if (pk.length !== 32 || encodeAddress(pk, 42) !== ss58) return undefined;
    return pk;
  } catch {
    return undefined;
  }
}

/**
 * Verifies sr25519 over the UTF-8 bytes of `message`, then over `<Bytes>message</Bytes>` (polkadot-js signRaw).
 * Never throws: a malformed point, or a backend that is not initialized, is a mismatch.
 */
export function verifySignatureBytes(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  const attempt = (m: Uint8Array): boolean => {
    try {
      return wasmSr25519Verify(signature, m, publicKey); // note the argument order: signature first
    } catch {
      return false;
    }
  };
  return attempt(message) || attempt(bytesWrapped(message));
}

/** `<Bytes>message</Bytes>`, the form polkadot-js `signRaw` signs. */
function bytesWrapped(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(BYTES_OPEN.length + message.length + BYTES_CLOSE.length);
  out.set(BYTES_OPEN, 0);
  out.set(message, BYTES_OPEN.length);
  out.set(BYTES_CLOSE, BYTES_OPEN.length + message.length);
  return out;
}

/** True when `signature` ("0x" + 128 hex) is `signerSs58`'s sr25519 signature of `message`; false on any defect. */
export function verifySignature(message: string, signature: string, signerSs58: string): boolean {
  const publicKey = publicKeyOf(signerSs58);
  if (publicKey === undefined) return false;
  let sig: Uint8Array;
  try {
    sig = decodeSignatureHex(signature);
  } catch {
    return false;
  }
  return verifySignatureBytes(new TextEncoder().encode(message), sig, publicKey);
}
