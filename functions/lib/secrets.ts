// Secrets for the publish Lambda, read through an injected Secrets Manager client. Values never reach a log:
// errors name the secret (ARN) and the problem, not the content.
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { z } from "zod";

async function secretString(client: SecretsManagerClient, secretId: string): Promise<string> {
  let value: string | undefined;
  try {
    value = (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (error) {
    throw new Error(`cannot read secret ${secretId}: ${(error as Error).name}`);
  }
  if (!value) throw new Error(`secret ${secretId} has no SecretString`);
  return value;
}

/** The hotkey secret: JSON `{ "seedHex": "0x…" }` or `{ "mnemonic": "…" }` (never the coldkey). */
export const HotkeySecret = z.union([
  z.strictObject({ seedHex: z.string().regex(/^(0x)?[0-9a-fA-F]{64}$/, "seedHex must be 32 bytes of hex") }),
  z.strictObject({
    mnemonic: z
      .string()
      .refine((m) => [12, 15, 18, 21, 24].includes(m.trim().split(/\s+/).length), "mnemonic must have 12-24 words"),
  }),
]);
export type HotkeySecret = z.infer<typeof HotkeySecret>;

export async function readHotkeySecret(client: SecretsManagerClient, secretId: string): Promise<HotkeySecret> {
  const raw = await secretString(client, secretId);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`secret ${secretId} is not JSON; store {"seedHex":"0x…"} or {"mnemonic":"…"}`);
  }
  const parsed = HotkeySecret.safeParse(json);
  if (!parsed.success) {
    // Only the issue's message and path: zod would otherwise echo the received value.
    const issue = parsed.error.issues[0];
    throw new Error(
      `secret ${secretId} must be {"seedHex":"0x…"} or {"mnemonic":"…"} (${issue?.message ?? "invalid"})`,
    );
  }
  return parsed.data;
}

/** The HF token secret: a plain string `hf_…` or JSON `{ "token": "hf_…" }`. */
export async function readHfToken(client: SecretsManagerClient, secretId: string): Promise<string> {
  const raw = (await secretString(client, secretId)).trim();
  let token = raw;
  if (raw.startsWith("{")) {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      json = undefined; // the parser's message would quote the secret
    }
    const parsed = z.object({ token: z.string() }).safeParse(json);
    if (!parsed.success) throw new Error(`secret ${secretId} must be the token or {"token":"hf_…"}`);
    token = parsed.data.token.trim();
  }
  if (!/^hf_[A-Za-z0-9]{20,}$/.test(token)) {
    throw new Error(`secret ${secretId} does not hold a Hugging Face token (expected hf_…)`);
  }
  return token;
}
