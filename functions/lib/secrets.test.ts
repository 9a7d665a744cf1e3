import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { loadHotkeyFromSecret } from "@roadwork/chain/hotkey-secret";
import { FakeSecretsManager } from "../../packages/lifecycle/test/support/fake-secrets-manager.ts";
import { readHfToken } from "./secrets.ts";

const SEED = `0x${"ab".repeat(32)}`;
const TOKEN = "hf_secretsTOKENabcdefghijklmnop";

describe("Lambda secrets through the real Secrets Manager client", () => {
  let sm: FakeSecretsManager;
  let client: SecretsManagerClient;
  before(async () => {
    sm = await new FakeSecretsManager().start();
    client = new SecretsManagerClient({
      endpoint: sm.url,
      region: "us-east-1",
      credentials: { accessKeyId: "t", secretAccessKey: "t" },
    });
  });
  after(async () => {
    client.destroy();
    await sm.stop();
  });

  it("reads hotkey secrets ({seedHex} / {mnemonic}) and plain or JSON HF tokens", async () => {
    sm.secrets.set("hk-seed", JSON.stringify({ seedHex: SEED }));
    sm.secrets.set(
      "hk-words",
      JSON.stringify({ mnemonic: "bottom drive obey lake curtain smoke basket hold race lonely fit walk" }),
    );
    sm.secrets.set("hf-plain", `${TOKEN}\n`);
    sm.secrets.set("hf-json", JSON.stringify({ token: TOKEN }));
    assert.match((await loadHotkeyFromSecret(client, "hk-seed")).address, /^5[1-9A-HJ-NP-Za-km-z]{47}$/);
    assert.match((await loadHotkeyFromSecret(client, "hk-words")).address, /^5/);
    assert.equal(await readHfToken(client, "hf-plain"), TOKEN);
    assert.equal(await readHfToken(client, "hf-json"), TOKEN);
  });

  it("bad secrets fail with the secret's name and the expected shape, never its content", async () => {
    const cases: [string, string, RegExp][] = [
      ["hk-raw", SEED, /hk-raw is not JSON/],
      ["hk-short", JSON.stringify({ seedHex: SEED.slice(0, 40) }), /must be 32 bytes of hex/],
      ["hk-none", JSON.stringify({ password: "x" }), /holds neither/],
      ["hf-garbage", `{${TOKEN}`, /must be the token or \{"token"/],
      ["hf-wrong", "ghp_notahuggingfacetoken0123456789", /does not hold a Hugging Face token/],
    ];
    for (const [id, value, pattern] of cases) {
      sm.secrets.set(id, value);
      const read = id.startsWith("hk") ? loadHotkeyFromSecret(client, id) : readHfToken(client, id);
      await assert.rejects(read, (e: Error) => {
        assert.match(e.message, pattern);
        assert.ok(
          !e.message.includes(SEED.slice(2, 20)) && !e.message.includes(TOKEN) && !e.message.includes("ghp_"),
          e.message,
        );
        return true;
      });
    }
    await assert.rejects(readHfToken(client, "missing"), /cannot read secret missing: ResourceNotFoundException/);
  });
});
