import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connectSubtensor, type SubtensorConnection } from "../src/connection.ts";
import { ChainDataError, readAxon, readMetagraph } from "../src/metagraph-reader.ts";
import { checkSignedExtensions } from "../src/signed-extensions.ts";
import { ChainTimeoutError } from "../src/timeout.ts";
import { DEMO_NETUID, demoNeurons, devKey } from "./support/demo-subnet.ts";
import { LoopbackChain } from "./support/loopback-chain.ts";
import { recordingLogger } from "./support/recording-logger.ts";
import { createChainRegistry, loadRuntimeMaterial } from "./support/subtensor-metadata.ts";

const FAST = { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 50 };

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe("transaction extensions vs real metadata", () => {
  for (const network of ["mainnet", "testnet"] as const) {
    it(`${network}: every declared extension is known and encodes like the runtime`, () => {
      const { registry, metadata } = createChainRegistry(loadRuntimeMaterial(network));
      const check = checkSignedExtensions(registry, metadata);
      assert.equal(check.ok, true, JSON.stringify(check));
      assert.deepEqual(check.unknown, []);
      assert.ok(check.declared.includes("SubtensorSignedExtension"));
      assert.ok(check.declared.includes("CheckMetadataHash"));
    });
  }

  it("reports unknown and mismatched extensions", () => {
    const { registry, metadata } = createChainRegistry(loadRuntimeMaterial("mainnet"));
    const none = checkSignedExtensions(registry, metadata, {});
    assert.deepEqual(
      none.unknown.map((u) => u.name),
      ["SubtensorSignedExtension", "CommitmentsSignedExtension"],
    );
    assert.equal(none.ok, true, "empty unknown extensions are harmless");
    const wrong = checkSignedExtensions(registry, metadata, {
      SubtensorSignedExtension: { extrinsic: { tip: "Compact<Balance>" }, payload: {} },
    });
    assert.equal(wrong.ok, false);
    assert.equal(wrong.mismatched[0]?.name, "SubtensorSignedExtension");
  });
});

describe("connectSubtensor against a loopback subtensor", () => {
  let chain: LoopbackChain;
  before(async () => {
    chain = await LoopbackChain.start({ netuid: DEMO_NETUID, neurons: demoNeurons() });
  });
  after(() => chain.close());

  it("connects, loads the real runtime metadata and disconnects cleanly", async () => {
    const logger = recordingLogger();
    const conn = await connectSubtensor({ endpoint: chain.url, logger });
    try {
      assert.equal(conn.api.runtimeVersion.specVersion.toNumber(), 219);
      assert.equal(conn.extensions.ok, true);
      assert.ok(logger.lines.some((l) => l.message === "connected to subtensor"));
      assert.equal(conn.isConnected(), true);
    } finally {
      await conn.disconnect();
    }
    assert.equal(conn.isConnected(), false);
  });

  it("reconnects after the node drops the socket, and after the node restarts", async () => {
    const conn = await connectSubtensor({ endpoint: chain.url, reconnect: FAST });
    try {
      const reconnected = once(conn.events, "connected");
      chain.dropConnections();
      await reconnected;
      assert.equal((await readMetagraph(conn.api, DEMO_NETUID)).neurons.length, 12);

      const down = once(conn.events, "disconnected");
      await chain.close();
      await down;
      await new Promise((r) => setTimeout(r, 100)); // a few refused attempts
      const back = once(conn.events, "connected");
      await chain.listen();
      await back;
      assert.equal((await readMetagraph(conn.api, DEMO_NETUID)).neurons.length, 12);
    } finally {
      await conn.disconnect();
    }
  });

  it("gives up after the configured number of attempts", async () => {
    const own = await LoopbackChain.start({ netuid: DEMO_NETUID, neurons: demoNeurons() });
    const logger = recordingLogger();
    const conn = await connectSubtensor({
      endpoint: own.url,
      logger,
      reconnect: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 3 },
    });
    try {
      const gaveUp = once(conn.events, "gave-up");
      await own.close();
      const [error] = await gaveUp;
      assert.match((error as Error).message, /after 3 attempts/);
      assert.ok(logger.lines.some((l) => l.level === "error" && l.message.includes("gave up")));
    } finally {
      await conn.disconnect();
    }
  });

  it("fails the initial connect within the connect timeout when nothing listens", async () => {
    const port = await freePort();
    const started = Date.now();
    await assert.rejects(
      connectSubtensor({ endpoint: `ws://127.0.0.1:${port}`, connectTimeoutMs: 400, reconnect: FAST }),
      /connecting to ws:\/\/127\.0\.0\.1:\d+: no answer from the chain within 0\.4s.*Check --endpoint/,
    );
    // Generous (a loaded CI): what matters is that the 0.4 s connect timeout, not the reconnect policy, ends it.
    assert.ok(Date.now() - started < 10_000);
  });

  it("survives a timeout on polkadot's own runtime-version subscription (no uncaught exception)", async () => {
    // polkadot-js subscribes to runtime versions internally with no error handler; a node that never acknowledges
    // it must cost a logged error, not the process.
    chain.intercept = (method) => (method === "state_subscribeRuntimeVersion" ? { hang: true } : undefined);
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", onUncaught);
    const conn = await connectSubtensor({ endpoint: chain.url, callTimeoutMs: 1_000 });
    try {
      // The provider sweeps timed-out requests every 5 s; wait (generously) until it has failed the subscription.
      const deadline = Date.now() + 60_000;
      while ((conn.api.stats?.total.timeout ?? 0) === 0 && Date.now() < deadline) await sleep(100);
      assert.ok((conn.api.stats?.total.timeout ?? 0) > 0, "the subscription timed out");
      await sleep(100); // rxjs reports unhandled errors on a timer
      assert.deepEqual(uncaught, []);
      const header = await conn.call("chain_getHeader", () => conn.api.rpc.chain.getHeader());
      assert.equal(header.number.toNumber(), chain.blockNumber);
    } finally {
      chain.intercept = () => undefined;
      process.off("uncaughtException", onUncaught);
      await conn.disconnect();
    }
  });

  it("fails the initial connect when the node never sends its metadata", async () => {
    chain.intercept = (method, params) =>
      method === "state_getMetadata" || (method === "state_call" && String(params[0]).startsWith("Metadata_"))
        ? { hang: true }
        : undefined;
    try {
      await assert.rejects(connectSubtensor({ endpoint: chain.url, connectTimeoutMs: 400 }), /within 0\.4s/);
    } finally {
      chain.intercept = () => undefined;
    }
  });

  it("fails clearly when the node sends garbage metadata", async () => {
    // Garbage both ways the API fetches metadata (runtime API first, then the RPC fallback).
    chain.intercept = (method, params) =>
      method === "state_getMetadata"
        ? { result: "0x6d657461deadbeef" }
        : method === "state_call" && params[0] === "Metadata_metadata_at_version"
          ? { result: "0x01206d657461deadbeef" }
          : undefined;
    try {
      await assert.rejects(
        connectSubtensor({ endpoint: chain.url, connectTimeoutMs: 3000 }),
        /could not initialise.*createType\(Metadata\)/,
      );
    } finally {
      chain.intercept = () => undefined;
    }
  });

  describe("bounded calls and malformed answers", () => {
    let conn: SubtensorConnection;
    before(async () => {
      // Calls that are answered get a budget a loaded machine meets; the hung call below has its own 0.2 s timeout.
      conn = await connectSubtensor({ endpoint: chain.url, callTimeoutMs: 10_000 });
    });
    after(async () => {
      chain.intercept = () => undefined;
      await conn.disconnect();
    });

    it("times out a call the node never answers, while other calls still work", async () => {
      chain.intercept = (method) => (method === "state_call" ? { hang: true } : undefined);
      // netuid 77: @polkadot/api shares identical in-flight calls, so keep the hung ones apart from later tests.
      await assert.rejects(readMetagraph(conn.api, 77, { timeoutMs: 200 }), (error: Error) => {
        assert.ok(error instanceof ChainTimeoutError);
        assert.match(error.message, /state_call .*no answer from the chain within 0\.2s/);
        return true;
      });
      const header = await conn.call("chain_getHeader", () => conn.api.rpc.chain.getHeader());
      assert.equal(header.number.toNumber(), chain.blockNumber);
    });

    const malformed: [string, (valid: string) => string, RegExp][] = [
      ["garbage bytes", () => "0xdeadbeef", /do not decode|not a complete/],
      ["a truncated payload", (valid) => valid.slice(0, valid.length - 40), /do not decode|not a complete/],
      ["trailing bytes", (valid) => `${valid}00ff`, /not a complete/],
      ["an empty result", () => "0x", /do not decode|not a complete/],
      ["non-hex text", () => "0xnothex", /state_call|decode|hex/i],
    ];
    for (const [what, mutate, pattern] of malformed) {
      it(`rejects ${what} from get_neurons_lite with a ChainDataError`, async () => {
        chain.intercept = (method, params) =>
          method === "state_call" && params[0] === "NeuronInfoRuntimeApi_get_neurons_lite"
            ? { result: mutate(chain.encodeNeuronsLite(DEMO_NETUID)) }
            : undefined;
        await assert.rejects(readMetagraph(conn.api, DEMO_NETUID), (error: Error) => {
          assert.ok(error instanceof ChainDataError, `${error.name}: ${error.message}`);
          assert.match(error.message, pattern);
          return true;
        });
      });
    }

    it("rejects an undecodable storage value with a ChainDataError", async () => {
      chain.intercept = (method, params) => {
        if (method !== "state_queryStorageAt" && method !== "state_getStorage") return undefined;
        const keys = (method === "state_getStorage" ? [params[0]] : params[0]) as string[];
        const garbage = "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
        return method === "state_getStorage"
          ? { result: garbage }
          : { result: [{ block: null, changes: keys.map((k) => [k, garbage]) }] };
      };
      await assert.rejects(readAxon(conn.api, DEMO_NETUID, devKey("//Bob").address), (error: Error) => {
        assert.ok(error instanceof ChainDataError, `${error.name}: ${error.message}`);
        assert.match(error.message, /SubtensorModule\.Axons could not be read/);
        return true;
      });
    });

    it("reports a missing subnet instead of an empty metagraph", async () => {
      chain.intercept = () => undefined;
      await assert.rejects(readMetagraph(conn.api, 999), /subnet 999 does not exist/);
    });
  });
});
