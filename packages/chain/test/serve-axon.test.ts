import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { connectSubtensor, type SubtensorConnection } from "../src/connection.ts";
import { type AxonInfo, readAxon } from "../src/metagraph-reader.ts";
import {
  encodeServeAxon,
  ensureServing,
  planServeAxon,
  ServeAxonError,
  serveParams,
  servingRateLimitStatus,
  submitServeAxon,
  versionAsInt,
} from "../src/serve-axon.ts";
import { startDemoChain } from "./support/demo-chain.ts";
import { DEMO_IP, DEMO_NETUID, demoNeurons, devKey, OUR_UID } from "./support/demo-subnet.ts";
import { LoopbackChain } from "./support/loopback-chain.ts";
import { recordingLogger } from "./support/recording-logger.ts";

// Independent SCALE assembly of serve_axon: pallet index, call index 4, u16 netuid, u32 version, u128 ip, u16 port,
// u8 ip_type, u8 protocol, u8 placeholder1, u8 placeholder2, all little-endian.
function handEncodedServeAxon(
  pallet: number,
  netuid: number,
  version: number,
  ip: bigint,
  port: number,
  ipType: number,
) {
  const le = (value: bigint, bytes: number) =>
    Array.from({ length: bytes }, (_, i) => Number((value >> BigInt(8 * i)) & 0xffn));
  const bytes = [
    pallet,
    4,
    ...le(BigInt(netuid), 2),
    ...le(BigInt(version), 4),
    ...le(ip, 16),
    ...le(BigInt(port), 2),
    ipType,
    4,
    0,
    0,
  ];
  return `0x${Buffer.from(bytes).toString("hex")}`;
}

const onChain = (over: Partial<AxonInfo> = {}): AxonInfo => ({
  block: 905,
  version: 9012002,
  ip: DEMO_IP,
  ipText: "198.51.100.23",
  port: 8091,
  ipType: 4,
  protocol: 4,
  placeholder1: 0,
  placeholder2: 0,
  ...over,
});

describe("serve_axon planning", () => {
  const desired = { ip: "198.51.100.23", port: 8091, version: 9012002 };

  it("skips when every compared field matches the chain", () => {
    assert.equal(planServeAxon({ netuid: 72, onChain: onChain(), desired }).action, "skip");
  });

  it("serves when any compared field differs, or nothing is on chain", () => {
    const cases: [Partial<AxonInfo>, RegExp][] = [
      [{ ip: DEMO_IP + 1n, ipText: "198.51.100.24" }, /ip 198\.51\.100\.24 -> 198\.51\.100\.23/],
      [{ port: 8092 }, /port 8092 -> 8091/],
      [{ version: 9012001 }, /version/],
      [{ protocol: 0 }, /protocol 0 -> 4/],
      [{ ipType: 6 }, /ip_type/],
      [{ placeholder1: 1 }, /placeholders/],
    ];
    for (const [change, reason] of cases) {
      const plan = planServeAxon({ netuid: 72, onChain: onChain(change), desired });
      assert.equal(plan.action, "serve");
      assert.match(plan.reason, reason);
    }
    assert.equal(planServeAxon({ netuid: 72, onChain: undefined, desired }).action, "serve");
    assert.equal(
      planServeAxon({ netuid: 72, onChain: onChain({ ip: 0n, ipText: "0.0.0.0" }), desired }).action,
      "serve",
    );
  });

  it("refuses values the chain would reject before spending a transaction", () => {
    assert.throws(() => serveParams(72, { ...desired, ip: "127.0.0.1" }), /InvalidIpAddress/);
    assert.throws(() => serveParams(72, { ...desired, port: 0 }), /InvalidPort/);
    assert.throws(() => serveParams(72, { ...desired, ip: "my-host.example" }), /not a literal/);
  });

  it("computes the ServingRateLimit window", () => {
    assert.deepEqual(servingRateLimitStatus({ servingRateLimit: 50, currentBlock: 1020, lastServedBlock: 1000 }), {
      allowed: false,
      currentBlock: 1020,
      nextAllowedBlock: 1050,
      blocksToWait: 30,
      secondsToWait: 360,
    });
    assert.equal(
      servingRateLimitStatus({ servingRateLimit: 50, currentBlock: 1050, lastServedBlock: 1000 }).allowed,
      true,
    );
    assert.equal(servingRateLimitStatus({ servingRateLimit: 50, currentBlock: 10, lastServedBlock: 0 }).allowed, true);
    assert.equal(
      servingRateLimitStatus({ servingRateLimit: 0, currentBlock: 1001, lastServedBlock: 1000 }).allowed,
      true,
    );
  });

  it("computes the SDK's version_as_int", () => {
    assert.equal(versionAsInt("9.12.2"), 9012002);
    assert.equal(versionAsInt("10.2.0"), 10002000);
  });
});

describe("serve_axon against a loopback subtensor", () => {
  let chain: LoopbackChain;
  let conn: SubtensorConnection;
  const bob = devKey("//Bob");
  let stop: () => Promise<void>;
  before(async () => {
    ({ chain, conn, stop } = await startDemoChain(bob));
  });
  after(() => stop());
  beforeEach(() => {
    chain.neurons = demoNeurons(bob.address);
    chain.advanceBlocks(60); // out of the previous test's rate-limit window
  });

  it("encodes exactly the hand-assembled SCALE bytes (real mainnet metadata)", () => {
    const params = serveParams(DEMO_NETUID, { ip: "198.51.100.23", port: 8091, version: 9012002 });
    const encoded = encodeServeAxon(conn.api, params);
    const expected = handEncodedServeAxon(7, DEMO_NETUID, 9012002, 3325256727n, 8091, 4);
    assert.equal(encoded.hex, expected);
    assert.ok(expected.includes("176433c6000000000000000000000000"));
    assert.deepEqual(encoded.decoded, {
      section: "subtensorModule",
      method: "serveAxon",
      args: {
        netuid: "323",
        version: "9012002",
        ip: "3325256727",
        port: "8091",
        ipType: "4",
        protocol: "4",
        placeholder1: "0",
        placeholder2: "0",
      },
    });
    const v6 = serveParams(72, { ip: "2001:db8::1", port: 443, version: 1 });
    assert.equal(
      encodeServeAxon(conn.api, v6).hex,
      handEncodedServeAxon(7, 72, 1, 0x20010db8000000000000000000000001n, 443, 6),
    );
  });

  it("submits signed by the hotkey, waits for inclusion, and the chain stores the axon", async () => {
    const params = serveParams(DEMO_NETUID, { ip: "203.0.113.9", port: 8091, version: 9012002 });
    const { call } = encodeServeAxon(conn.api, params);
    const result = await submitServeAxon(conn.api, bob, call);
    assert.match(result.blockHash, /^0x[0-9a-f]{64}$/);
    const submission = chain.submissions.at(-1)!;
    assert.equal(submission.signer, bob.address);
    assert.equal(submission.signatureValid, true);
    assert.equal(submission.method, "serveAxon");
    assert.equal(submission.args.ip, String(params.ip));
    assert.equal(submission.outcome, "ExtrinsicSuccess");
    const stored = await readAxon(conn.api, DEMO_NETUID, bob.address);
    assert.equal(stored?.ipText, "203.0.113.9");
    assert.equal(stored?.block, chain.blockNumber);
  });

  it("maps ServingRateLimitExceeded to a plain error", async () => {
    const first = encodeServeAxon(conn.api, serveParams(DEMO_NETUID, { ip: "203.0.113.10", port: 8091, version: 1 }));
    await submitServeAxon(conn.api, bob, first.call);
    const again = encodeServeAxon(conn.api, serveParams(DEMO_NETUID, { ip: "203.0.113.11", port: 8091, version: 1 }));
    await assert.rejects(submitServeAxon(conn.api, bob, again.call), (error: Error) => {
      assert.ok(error instanceof ServeAxonError);
      assert.equal(error.code, "ServingRateLimitExceeded");
      assert.match(error.message, /served too recently/);
      return true;
    });
  });

  it("maps HotKeyNotRegisteredInNetwork for an unregistered signer", async () => {
    const eve = devKey("//Eve");
    const { call } = encodeServeAxon(
      conn.api,
      serveParams(DEMO_NETUID, { ip: "203.0.113.12", port: 8091, version: 1 }),
    );
    await assert.rejects(
      submitServeAxon(conn.api, eve, call),
      /HotKeyNotRegisteredInNetwork: the hotkey is not registered/,
    );
    assert.equal(chain.submissions.at(-1)?.signer, eve.address);
  });

  it("ensureServing skips an unchanged axon, serves a changed one, and waits out the rate limit", async () => {
    const logger = recordingLogger();
    const submitted = chain.submissions.length;
    const same = await ensureServing({
      api: conn.api,
      netuid: DEMO_NETUID,
      hotkey: bob,
      desired: { ip: "198.51.100.23", port: 8091, version: 9012002 },
      logger,
    });
    assert.equal(same.action, "skipped");
    assert.equal(chain.submissions.length, submitted, "nothing submitted when unchanged");

    const moved = await ensureServing({
      api: conn.api,
      netuid: DEMO_NETUID,
      hotkey: bob,
      desired: { ip: "198.51.100.99", port: 8091, version: 9012002 },
      logger,
    });
    assert.equal(moved.action, "served");
    assert.equal(chain.neurons[OUR_UID]?.axon?.ip, 3325256803n);

    const tooSoon = await ensureServing({
      api: conn.api,
      netuid: DEMO_NETUID,
      hotkey: bob,
      desired: { ip: "198.51.100.100", port: 8091, version: 9012002 },
      logger,
    });
    assert.equal(tooSoon.action, "rate-limited");
    if (tooSoon.action === "rate-limited") {
      assert.equal(tooSoon.rateLimit.nextAllowedBlock, chain.blockNumber + 50);
      assert.equal(tooSoon.rateLimit.blocksToWait, 50);
    }
    assert.ok(logger.lines.some((l) => l.level === "warn" && /rate-limited/.test(l.message)));
  });

  it("ensureServing refuses a hotkey that is not registered, without submitting", async () => {
    const submitted = chain.submissions.length;
    await assert.rejects(
      ensureServing({
        api: conn.api,
        netuid: DEMO_NETUID,
        hotkey: devKey("//Ferdie"),
        desired: { ip: "198.51.100.23", port: 8091, version: 1 },
      }),
      /not registered on netuid 323/,
    );
    assert.equal(chain.submissions.length, submitted);
  });
});

describe("serve_axon on the testnet runtime (spec 224, different error indices)", () => {
  it("submits and maps ServingRateLimitExceeded through that runtime's metadata", async () => {
    const bob = devKey("//Bob");
    const chain = await LoopbackChain.start({
      network: "testnet",
      netuid: DEMO_NETUID,
      neurons: demoNeurons(bob.address),
    });
    const conn = await connectSubtensor({ endpoint: chain.url });
    try {
      assert.equal(conn.api.runtimeVersion.specVersion.toNumber(), 224);
      assert.equal(conn.extensions.ok, true);
      const serve = (ip: string) =>
        submitServeAxon(
          conn.api,
          bob,
          encodeServeAxon(conn.api, serveParams(DEMO_NETUID, { ip, port: 8091, version: 1 })).call,
        );
      await serve("203.0.113.20");
      assert.equal(chain.submissions.at(-1)?.outcome, "ExtrinsicSuccess");
      await assert.rejects(serve("203.0.113.21"), (error: Error) => {
        assert.ok(error instanceof ServeAxonError);
        assert.equal(error.code, "ServingRateLimitExceeded");
        return true;
      });
    } finally {
      await conn.disconnect();
      await chain.close();
    }
  });
});
