// The hotkey from AWS Secrets Manager (deployed miners): the secret holds JSON with a seed or a mnemonic — a bittensor
// wallet hotkey file verbatim works too — and is turned into a Hotkey by loadHotkey. A secret listing several hotkeys
// for one axon host ({"hotkeys": [entry, …]}, containers/axon/hotkey-list.ts) yields its first, the stage's primary
// hotkey: the one that signs model cards and registrations and whose registration the subnet watch follows. The client is injected; nothing
// from the secret's value ever appears in an error message.
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { z } from "zod";
import { type Hotkey, HotkeyError, loadHotkey } from "./keys.ts";

const HotkeySecretSchema = z.object({
  secretSeed: z.string().min(1).optional(),
  seedHex: z.string().min(1).optional(),
  secretPhrase: z.string().min(1).optional(),
  mnemonic: z.string().min(1).optional(),
  ss58Address: z.string().optional(),
});

export async function loadHotkeyFromSecret(
  client: Pick<SecretsManagerClient, "send">,
  secretId: string,
): Promise<Hotkey> {
  let text: string | undefined;
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    text = out.SecretString;
  } catch (error) {
    const name = (error as Error).name || "Error";
    const hint =
      name === "ResourceNotFoundException"
        ? "check the secret name/ARN and region"
        : name === "AccessDeniedException"
          ? "grant secretsmanager:GetSecretValue (and kms:Decrypt) to this task's role"
          : "check network access to Secrets Manager";
    throw new HotkeyError(`cannot read hotkey secret ${secretId}: ${name} (${hint})`);
  }
  if (!text) throw new HotkeyError(`hotkey secret ${secretId} has no SecretString (binary secrets are not supported)`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse quotes its input; the secret must not reach a log.
    throw new HotkeyError(
      `hotkey secret ${secretId} is not JSON; store {"secretSeed": "0x..."} or {"mnemonic": "..."}`,
    );
  }
  const list = (json as { hotkeys?: unknown } | null)?.hotkeys;
  if (Array.isArray(list)) {
    if (list.length === 0) throw new HotkeyError(`hotkey secret ${secretId} lists no hotkeys ("hotkeys" is empty)`);
    json = list[0];
  }
  const parsed = HotkeySecretSchema.safeParse(json);
  if (!parsed.success) {
    throw new HotkeyError(`hotkey secret ${secretId} has fields of the wrong type (expected strings)`);
  }
  const { secretSeed, seedHex, secretPhrase, mnemonic, ss58Address } = parsed.data;
  const seed = secretSeed ?? seedHex;
  const phrase = secretPhrase ?? mnemonic;
  if (!seed && !phrase) {
    throw new HotkeyError(`hotkey secret ${secretId} holds neither secretSeed/seedHex nor secretPhrase/mnemonic`);
  }
  // A wallet file carries both; the seed is authoritative (as for wallet files on disk).
  const hotkey = await loadHotkey(seed ? { seedHex: seed } : { mnemonic: phrase });
  if (ss58Address && ss58Address !== hotkey.address) {
    throw new HotkeyError(
      `hotkey secret ${secretId}: the key derives to ${hotkey.address} but the secret says ss58Address ${ss58Address}`,
    );
  }
  return hotkey;
}
