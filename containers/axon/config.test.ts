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
  assert.deepEqual(
    c.hotkeys.map((h) => h.port),
    [8091],
  );
  assert.equal(c.host, "::");
  assert.equal(c.externalIp, "203.0.113.7");
  assert.equal(c.executionProvider, "auto");
  assert.equal(c.hotkeys[0]?.source.seedHex, SEED);
  assert.equal(c.hotkeys[0]?.expectedAddress, undefined);
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
  assert.deepEqual(
    parseAxonEnv({ ...ecsEnv, ROADWORK_HOTKEY_SECRET: JSON.stringify({ mnemonic: words }) }).hotkeys[0]?.source,
    {
      mnemonic: words,
    },
  );
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

// A second throwaway seed, and what an operator with three hotkeys on one host stores.
const SEED2 = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const SS58 = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
const WORDS = "legal winner thank year wave sausage worth useful legal winner thank yellow";
const threeHotkeys = JSON.stringify({
  hotkeys: [{ seedHex: SEED }, { mnemonic: WORDS, port: 8093 }, { seedHex: SEED2, ss58Address: SS58 }],
});

/** Runs parseAxonEnv expecting an AxonEnvError; checks no secret leaks into its message and returns it. */
function envError(env: Record<string, string | undefined>): string {
  try {
    parseAxonEnv(env);
  } catch (e) {
    assert.ok(e instanceof AxonEnvError, String(e));
    for (const secret of [SEED.slice(2, 20), SEED2.slice(2, 20), "legal winner", "sausage"]) {
      assert.ok(!e.message.includes(secret), `a secret leaked into: ${e.message}`);
    }
    return e.message;
  }
  return assert.fail("expected an AxonEnvError");
}

test("a list of hotkeys: one port each from ROADWORK_PORTS, pinned ports honoured, the rest in order", () => {
  const c = parseAxonEnv({
    ...ecsEnv,
    ROADWORK_PORT: undefined,
    ROADWORK_PORTS: "8091, 8092,8093",
    ROADWORK_HOTKEY_SECRET: threeHotkeys,
  });
  assert.deepEqual(
    c.hotkeys.map((h) => [h.source, h.port, h.expectedAddress]),
    [
      [{ seedHex: SEED }, 8091, undefined],
      [{ mnemonic: WORDS }, 8093, undefined],
      [{ seedHex: SEED2 }, 8092, SS58],
    ],
  );
  // Today's single-hotkey secret with today's single port keeps working, and so does a one-entry list.
  assert.equal(parseAxonEnv({ ...ecsEnv, ROADWORK_PORT: undefined, ROADWORK_PORTS: "9000" }).hotkeys[0]?.port, 9000);
  const one = parseAxonEnv({ ...ecsEnv, ROADWORK_HOTKEY_SECRET: JSON.stringify({ hotkeys: [{ mnemonic: WORDS }] }) });
  assert.deepEqual(one.hotkeys, [{ source: { mnemonic: WORDS }, port: 8091, expectedAddress: undefined }]);
});

test("malformed lists are refused entry by entry, without echoing any key", () => {
  const withList = (hotkeys: unknown, ports = "8091,8092") =>
    envError({
      ...ecsEnv,
      ROADWORK_PORT: undefined,
      ROADWORK_PORTS: ports,
      ROADWORK_HOTKEY_SECRET: JSON.stringify({ hotkeys }),
    });
  assert.match(withList([]), /"hotkeys" must be a list of 1 to 32 entries/);
  assert.match(withList("nope"), /"hotkeys" must be a list/);
  assert.match(
    withList([{ seedHex: SEED }, { seed: SEED2 }]),
    /hotkeys\[1\] has the wrong shape \(\[1\]\)|hotkeys\[1\] has the wrong shape/,
  );
  assert.match(withList([{ seedHex: SEED }, { seedHex: "0x12" }]), /hotkeys\[1\] has the wrong shape \(\.seedHex\)/);
  assert.match(withList([{ seedHex: SEED }, { seedHex: SEED2, mnemonic: WORDS }]), /hotkeys\[1\] needs exactly one/);
  assert.match(
    withList([{ seedHex: SEED }, { mnemonic: WORDS, port: "8092" }]),
    /hotkeys\[1\] has the wrong shape \(\.port\)/,
  );
  assert.match(
    withList([{ seedHex: SEED }, { seedHex: SEED.toUpperCase().replace("0X", "0x") }]),
    /hotkeys\[0\] and hotkeys\[1\] hold the same key/,
  );
  assert.match(
    envError({ ...ecsEnv, ROADWORK_HOTKEY_SECRET: JSON.stringify({ hotkeys: [{ seedHex: SEED }], extra: WORDS }) }),
    /"hotkeys" must be a list .* and the only field/,
  );
  // Every problem at once: two bad entries, two lines.
  const both = withList([{ mnemonic: 7 }, { seedHex: SEED, port: -1 }]);
  assert.match(both, /hotkeys\[0\].*\n.*hotkeys\[1\]/s);
});

test("ports: one per hotkey, no duplicates, a pinned port must be one the stage opens", () => {
  const env = { ...ecsEnv, ROADWORK_PORT: undefined, ROADWORK_HOTKEY_SECRET: threeHotkeys };
  assert.match(
    envError({ ...env, ROADWORK_PORTS: "8091,8092" }),
    /holds 3 hotkey\(s\) but the stage opens 2 port\(s\) \(ROADWORK_PORTS=8091,8092\)/,
  );
  assert.match(
    envError({ ...env, ROADWORK_PORTS: "8091,8092,8093,8094" }),
    /holds 3 hotkey\(s\) but the stage opens 4/,
  );
  assert.match(envError({ ...env, ROADWORK_PORTS: "8091,8092,8092" }), /ROADWORK_PORTS: lists a port twice/);
  assert.match(
    envError({ ...env, ROADWORK_PORTS: "8091,8092,x" }),
    /ROADWORK_PORTS: must be comma-separated port numbers/,
  );
  assert.match(
    envError({ ...env, ROADWORK_PORTS: "8091,8092,8094" }),
    /hotkeys\[1\]\.port 8093 is not one of the stage's ports/,
  );
  const twice = JSON.stringify({
    hotkeys: [
      { seedHex: SEED, port: 8092 },
      { mnemonic: WORDS, port: 8092 },
    ],
  });
  assert.match(
    envError({ ...env, ROADWORK_PORTS: "8091,8092", ROADWORK_HOTKEY_SECRET: twice }),
    /hotkeys\[0\] and hotkeys\[1\] both ask for port 8092/,
  );
  assert.match(
    envError({ ...env, ROADWORK_PORTS: "8091,8092,8093", ROADWORK_PORT: "8091" }),
    /ROADWORK_PORTS: set it or ROADWORK_PORT, not both/,
  );
  assert.match(
    envError({ ...env, ROADWORK_PORTS: "8091,8092,8093", ROADWORK_HOTKEY_ADDRESS: SS58 }),
    /ROADWORK_HOTKEY_ADDRESS: names one hotkey; with several, give each entry its own "ss58Address"/,
  );
});
