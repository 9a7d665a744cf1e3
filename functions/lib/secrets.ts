// The Hugging Face token for the publish Lambda, read through an injected Secrets Manager client (the hotkey goes
// through @roadwork/chain/hotkey-secret). Values never reach a log: errors name the secret, not its content.
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
