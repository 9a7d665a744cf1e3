// Secrets (HF token, seed, mnemonic) must never reach a log or an error message.
const TOKEN_PATTERNS = [/hf_[A-Za-z0-9]{10,}/g, /Bearer\s+[A-Za-z0-9._~+/=-]+/gi, /0x[0-9a-fA-F]{64}\b/g];

export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("[redacted]");
  for (const p of TOKEN_PATTERNS) out = out.replace(p, "[redacted]");
  return out;
}

/** An error whose message has been scrubbed; the original is kept off `cause` on purpose (it may hold the secret). */
export function redactedError(error: unknown, secrets: readonly (string | undefined)[] = [], prefix = ""): Error {
  const message = error instanceof Error ? error.message : String(error);
  const out = new Error(redact(prefix + message, secrets));
  if (error instanceof Error) out.name = error.name;
  return out;
}
