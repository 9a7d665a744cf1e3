// The verify stage: bittensor `Axon.default_verify` with the stricter choices of docs/protocol.md.
import { ALLOWED_DELTA_NS, MAX_TIMEOUT_S } from "./constants.ts";
import { notVerified, ProtocolError } from "./errors.ts";
import type { RequestHeaders } from "./headers.ts";
import type { NonceStore } from "./nonce-store.ts";
import { decodeSignatureHex, publicKeyOf, SignatureFormatError, verifySignatureBytes } from "./signature.ts";
import type { SignatureVerifier } from "./verifier-pool.ts";

export interface VerifyContext {
  /** The axon's own hotkey (ss58): the signed message names the hotkey the dendrite addressed. */
  selfHotkey: string;
  /** Wall clock in ns since the epoch (`BigInt(Date.now()) * 1_000_000n` in production). */
  nowNs: bigint;
  nonces: NonceStore;
}

/**
 * The blacklist stage runs before verify and needs a caller hotkey. Python answers 403 "Missing dendrite or hotkey"
 * there (natix `BaseMinerNeuron.blacklist`); this returns the hotkey or throws that exact 403.
 */
export function requireDendriteHotkey(h: RequestHeaders): string {
  const hotkey = h.dendrite.hotkey;
  if (hotkey === undefined || hotkey === "") {
    throw new ProtocolError(403, "Forbidden. Key is blacklisted: Missing dendrite or hotkey.");
  }
  return hotkey;
}

/** The exact string a dendrite signs, rebuilt from the header strings as received. */
export function signedMessage(h: RequestHeaders, selfHotkey: string): string {
  const d = h.dendrite;
  return `${d.nonceText ?? ""}.${d.hotkey ?? ""}.${selfHotkey}.${d.uuid ?? ""}.${h.computedBodyHash ?? ""}`;
}

interface PreparedVerification {
  key: string;
  nonce: bigint;
  /** The bytes the dendrite signed, its signature and public key, all well-formed. */
  message: Uint8Array;
  messageText: string;
  signature: Uint8Array;
  signatureText: string;
  publicKey: Uint8Array;
}

/** Everything before the curve arithmetic: header presence, hotkey, nonce freshness and order, signature format. */
function prepareVerification(h: RequestHeaders, ctx: VerifyContext): PreparedVerification {
  const d = h.dendrite;
  // Stricter than Python, where the blacklist answers 403 first and Keypair(None) would fail with a vaguer error.
  if (d.hotkey === undefined || d.hotkey === "") throw notVerified("Missing dendrite hotkey");
  const publicKey = publicKeyOf(d.hotkey);
  if (publicKey === undefined) throw notVerified(`Invalid dendrite hotkey: not an ss58 address with prefix 42`);
  if (d.nonce === undefined || d.nonceText === undefined) throw notVerified("Missing Nonce");
  if (d.uuid === undefined || d.uuid === "") throw notVerified("Missing dendrite uuid");

  const key = `${d.hotkey}:${d.uuid}`;
  checkNonce(h, key, d.nonce, ctx);

  // Stricter than Python, which skips the signature check when the header is absent or empty.
  if (d.signature === undefined || d.signature === "") throw notVerified("Missing Signature");
  const messageText = signedMessage(h, ctx.selfHotkey);
  let signature: Uint8Array;
  try {
    signature = decodeSignatureHex(d.signature);
  } catch (e) {
    if (e instanceof SignatureFormatError) throw notVerified(e.message);
    throw e;
  }
  return {
    key,
    nonce: d.nonce,
    message: new TextEncoder().encode(messageText),
    messageText,
    signature,
    signatureText: d.signature,
    publicKey,
  };
}

/** Freshness of a first-seen endpoint key; afterwards the store's anti-replay window (see nonce-store.ts). */
function checkNonce(h: RequestHeaders, key: string, nonce: bigint, ctx: VerifyContext): void {
  const verdict = ctx.nonces.check(key, nonce);
  // Stricter than Python: freshness applies to every first-seen key, whatever the version header says, and the
  // timeout is clamped (parseRequestHeaders) so inf/nan cannot disable it.
  const timeout = Math.min(Math.max(Number.isFinite(h.timeout) ? h.timeout : 0, 0), MAX_TIMEOUT_S);
  const timeoutNs = BigInt(Math.round(timeout * 1e9));
  if (verdict === "first-seen" && nonce <= ctx.nowNs - ALLOWED_DELTA_NS - timeoutNs) {
    const allowed = (Number(ALLOWED_DELTA_NS) + timeout * 1e9) / 1e9;
    const age = Number(ctx.nowNs - nonce) / 1e9;
    throw notVerified(
      `Nonce is too old: acceptable delta is ${allowed.toFixed(2)} seconds but request was ${age.toFixed(2)} seconds old`,
    );
  }
  // Python's message for every refusal: a replay, or a nonce at or below the window's floor.
  if (verdict === "replayed") throw notVerified("Nonce is too old, a newer one was last processed");
}

function mismatch(p: PreparedVerification): ProtocolError {
  return notVerified(`Signature mismatch with ${p.messageText} and ${p.signatureText}`);
}

/**
 * Throws ProtocolError(401, "Not Verified with error: …") unless the request is signed by its dendrite hotkey for this
 * axon with a fresh nonce never accepted before (the store's window); on success records the nonce. Entirely synchronous, so the nonce
 * check-and-set cannot interleave with another request (call `ensureCryptoReady()` once at startup).
 */
export function verifyRequest(h: RequestHeaders, ctx: VerifyContext): void {
  const p = prepareVerification(h, ctx);
  if (!verifySignatureBytes(p.message, p.signature, p.publicKey)) throw mismatch(p);
  ctx.nonces.set(p.key, p.nonce);
}

/**
 * verifyRequest with the signature check on `verifier` (a worker pool): the same checks, errors and order. The nonce
 * is checked before the signature and checked again after it, immediately followed by recording it, with no await in
 * between; so of two requests racing with one nonce the later one still fails, and a nonce that fell below the
 * window while its signature was checked is refused.
 */
export async function verifyRequestAsync(
  h: RequestHeaders,
  ctx: VerifyContext,
  verifier: SignatureVerifier,
): Promise<void> {
  const p = prepareVerification(h, ctx);
  if (!(await verifier.verify(p.message, p.signature, p.publicKey))) throw mismatch(p);
  checkNonce(h, p.key, p.nonce, ctx);
  ctx.nonces.set(p.key, p.nonce);
}
