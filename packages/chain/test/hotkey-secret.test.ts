import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady, mnemonicGenerate, randomAsHex } from "@polkadot/util-crypto";
import { loadHotkeyFromSecret } from "../src/hotkey-secret.ts";

// Secrets Manager's JSON 1.1 wire protocol for GetSecretValue, on loopback, for the real SDK client.
function secretsManager(secrets: Map<string, string>) {
  const seen: { target: string; secretId: string; signed: boolean }[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const target = String(req.headers["x-amz-target"] ?? "");
    const { SecretId } = JSON.parse(body || "{}") as { SecretId?: string };
    seen.push({ target, secretId: SecretId ?? "", signed: /AWS4-HMAC-SHA256/.test(String(req.headers.authorization)) });
    res.setHeader("content-type", "application/x-amz-json-1.1");
    const value = SecretId === undefined ? undefined : secrets.get(SecretId);
    if (target !== "secretsmanager.GetSecretValue" || value === undefined) {
      res.statusCode = 400;
      res.end(
        JSON.stringify({
          __type: "ResourceNotFoundException",
          message: "Secrets Manager can't find the specified secret.",
        }),
      );
      return;
    }
    res.end(
      JSON.stringify({
        ARN: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${SecretId}`,
        Name: SecretId,
        SecretString: value,
      }),
    );
  });
  return { server, seen };
}

describe("hotkey from Secrets Manager", () => {
  const secrets = new Map<string, string>();
  let server: Server;
  let seen: ReturnType<typeof secretsManager>["seen"];
  let client: SecretsManagerClient;
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  let seed: string;
  let seedAddress: string;
  let phrase: string;
  let phraseAddress: string;

  before(async () => {
    await cryptoWaitReady();
    seed = randomAsHex(32);
    seedAddress = keyring.createFromUri(seed).address;
    phrase = mnemonicGenerate(12);
    phraseAddress = keyring.createFromUri(phrase).address;
    secrets.set("miner/seed", JSON.stringify({ secretSeed: seed }));
    secrets.set("miner/mnemonic", JSON.stringify({ mnemonic: phrase }));
    secrets.set(
      "miner/wallet-file",
      JSON.stringify({ secretPhrase: phrase, secretSeed: seed, ss58Address: seedAddress }),
    );
    secrets.set("miner/list", JSON.stringify({ hotkeys: [{ mnemonic: phrase, port: 8092 }, { seedHex: seed }] }));
    secrets.set("miner/empty-list", JSON.stringify({ hotkeys: [] }));
    secrets.set("miner/mismatch", JSON.stringify({ secretSeed: seed, ss58Address: phraseAddress }));
    secrets.set("miner/not-json", `seed=${seed}`);
    secrets.set("miner/empty", JSON.stringify({ note: "nothing here" }));
    ({ server, seen } = secretsManager(secrets));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    client = new SecretsManagerClient({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts: 1,
    });
  });
  after(async () => {
    client.destroy();
    await new Promise((r) => server.close(r));
  });

  it("loads a seed, a mnemonic, and a wallet hotkey file stored as the secret", async () => {
    assert.equal((await loadHotkeyFromSecret(client, "miner/seed")).address, seedAddress);
    assert.equal((await loadHotkeyFromSecret(client, "miner/mnemonic")).address, phraseAddress);
    assert.equal((await loadHotkeyFromSecret(client, "miner/wallet-file")).address, seedAddress);
    // The axon host's list of hotkeys: the first is the stage's primary hotkey.
    assert.equal((await loadHotkeyFromSecret(client, "miner/list")).address, phraseAddress);
    assert.deepEqual(seen[0], { target: "secretsmanager.GetSecretValue", secretId: "miner/seed", signed: true });
  });

  it("fails clearly, never echoing the secret", async () => {
    const cases: [string, RegExp][] = [
      ["miner/mismatch", /derives to .* but the secret says ss58Address/],
      ["miner/not-json", /is not JSON/],
      ["miner/empty", /holds neither/],
      ["miner/empty-list", /lists no hotkeys/],
      ["miner/missing", /ResourceNotFoundException \(check the secret name/],
    ];
    for (const [id, pattern] of cases) {
      await assert.rejects(loadHotkeyFromSecret(client, id), (error: Error) => {
        assert.match(error.message, pattern);
        assert.ok(!error.message.includes(seed.slice(2, 18)), "no seed material in the message");
        assert.ok(!error.message.includes(phrase.split(" ").slice(0, 3).join(" ")), "no mnemonic in the message");
        return true;
      });
    }
  });
});
