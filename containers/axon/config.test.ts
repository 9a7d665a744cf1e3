import assert from "node:assert/strict";
import { test } from "node:test";
import { AxonEnvError, parseAxonEnv } from "./config.ts";

// A throwaway sr25519 mini-secret: never a real key.
const SEED = "0x9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/** What ECS gives the container on mainnet (stacks/Miner.ts), with the hotkey from Secrets Manager. */
const ecsEnv = {
  ROADWORK_STAGE: "mainnet",
  ROADWORK_NETUID: "72",
  ROADWORK_CHAIN_ENDPOINT: "wss://entrypoint-finney.opentensor.ai:443",
  ROADWORK_EXTERNAL_IP: "203.0.113.7",
  ROADWORK_PORT: "8091",
  ROADWORK_MODEL: "s3://mainnet-roadwork-miner-storage-models1234/models/current.json",
  ROADWORK_PREDICTIONS_BUCKET: "mainnet-roadwork-miner-storage-predictions5678",
  ROADWORK_PREDICTIONS_PREFIX: "raw/",
  ROADWORK_METRICS_NAMESPACE: "RoadworkMiner",
  ROADWORK_DEVICE: "gpu",
  AWS_REGION: "us-east-1",
  ROADWORK_HOTKEY_SECRET: JSON.stringify({ seedHex: SEED }),
};

test("the ECS task environment parses into the runtime config", () => {
  const c = parseAxonEnv(ecsEnv);
  assert.equal(c.netuid, 72);
  assert.equal(c.port, 8091);
  assert.equal(c.host, "::");
  assert.equal(c.externalIp, "203.0.113.7");
  assert.equal(c.executionProvider, "auto");
  assert.equal(c.hotkey.seedHex, SEED);
  assert.equal(c.expectedHotkeyAddress, undefined);
  assert.deepEqual(c.predictions, { bucket: ecsEnv.ROADWORK_PREDICTIONS_BUCKET, prefix: "raw/" });
  assert.deepEqual(c.metrics, { namespace: "RoadworkMiner", intervalMs: 60_000 });
  assert.equal(c.modelPollMs, 300_000);
  assert.equal(c.serveAxon, true);
});

test("CPU device, local model path, no AWS extras", () => {
  const c = parseAxonEnv({
    ROADWORK_MODEL: "./models/demo",
    ROADWORK_NETUID: "323",
    ROADWORK_CHAIN_ENDPOINT: "ws://127.0.0.1:9944",
    ROADWORK_EXTERNAL_IP: "2001:db8::7",
    ROADWORK_DEVICE: "cpu",
    ROADWORK_SERVE_AXON: "false",
    ROADWORK_HOTKEY_MNEMONIC: "//Alice",
  });
  assert.equal(c.executionProvider, "cpu");
  assert.equal(c.serveAxon, false);
  assert.equal(c.predictions, undefined);
  assert.equal(c.metrics, undefined);
  assert.equal(c.region, undefined);
});

test("every problem is named at once, by variable, without echoing the hotkey", () => {
  const error = (() => {
    try {
      parseAxonEnv({
        ROADWORK_MODEL: "ftp://models/x.onnx",
        ROADWORK_NETUID: "seventy-two",
        ROADWORK_EXTERNAL_IP: "203.0.113",
        ROADWORK_PORT: "99999",
        ROADWORK_HOTKEY_SEED: SEED,
      });
    } catch (e) {
      return e;
    }
    assert.fail("expected an AxonEnvError");
  })();
  assert.ok(error instanceof AxonEnvError);
  for (const name of [
    "ROADWORK_MODEL",
    "ROADWORK_NETUID",
    "ROADWORK_CHAIN_ENDPOINT",
    "ROADWORK_EXTERNAL_IP",
    "ROADWORK_PORT",
  ]) {
    assert.match(error.message, new RegExp(`${name}:`), name);
  }
  assert.ok(!error.message.includes(SEED.slice(2, 20)), "the seed never appears in the message");
});

test("the hotkey secret: seed or mnemonic JSON; anything else is refused without echoing it", () => {
  const words = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
  assert.deepEqual(parseAxonEnv({ ...ecsEnv, ROADWORK_HOTKEY_SECRET: JSON.stringify({ mnemonic: words }) }).hotkey, {
    mnemonic: words,
  });
  for (const bad of [SEED, JSON.stringify({ seedHex: SEED, extra: 1 }), JSON.stringify({ seed: SEED })]) {
    assert.throws(
      () => parseAxonEnv({ ...ecsEnv, ROADWORK_HOTKEY_SECRET: bad }),
      (e: unknown) => {
        assert.ok(e instanceof AxonEnvError);
        assert.match(e.message, /ROADWORK_HOTKEY_SECRET: (is not JSON|has the wrong shape); store \{"seedHex"/);
        assert.ok(!e.message.includes(SEED.slice(2, 20)));
        return true;
      },
    );
  }
  assert.throws(
    () => parseAxonEnv({ ...ecsEnv, ROADWORK_HOTKEY_MNEMONIC: "//Alice" }),
    /ROADWORK_HOTKEY_SECRET: set alone/,
  );
});

test("a missing hotkey and a missing region say where they come from", () => {
  const { ROADWORK_HOTKEY_SECRET: _secret, ...withoutHotkey } = ecsEnv;
  assert.throws(() => parseAxonEnv(withoutHotkey), /ROADWORK_HOTKEY_SECRET: no hotkey given.*Secrets Manager/s);
  assert.throws(() => parseAxonEnv({ ...ecsEnv, AWS_REGION: "" }), /AWS_REGION: is required/);
});
