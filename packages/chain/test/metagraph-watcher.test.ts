import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, beforeEach, describe, it } from "node:test";
import type { SubtensorConnection } from "../src/connection.ts";
import { readMetagraph } from "../src/metagraph-reader.ts";
import { type MetagraphChange, MetagraphWatcher } from "../src/metagraph-watcher.ts";
import { startDemoChain } from "./support/demo-chain.ts";
import { DEMO_NETUID, demoNeurons, devKey, OUR_UID } from "./support/demo-subnet.ts";
import type { LoopbackChain } from "./support/loopback-chain.ts";
import { recordingLogger } from "./support/recording-logger.ts";

describe("metagraph reader and watcher against a loopback subtensor", () => {
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
    chain.intercept = () => undefined;
  });

  it("reads hotkeys, permits, stake, incentive, emission and axons with the SDK's units", async () => {
    const data = await readMetagraph(conn.api, DEMO_NETUID);
    assert.equal(data.netuid, DEMO_NETUID);
    assert.equal(data.block, chain.blockNumber);
    assert.equal(data.neurons.length, 12);
    const validator = data.neurons[0]!;
    assert.equal(validator.validatorPermit, true);
    assert.equal(validator.stake, 50_000);
    assert.equal(validator.axon, undefined, "ip 0 = not serving");
    const ours = data.neurons[OUR_UID]!;
    assert.equal(ours.hotkey, bob.address);
    assert.equal(ours.incentive, 1311 / 65535);
    assert.equal(ours.emission, 0.123456789);
    assert.equal(ours.stake, 1.5);
    assert.equal(ours.blockAtRegistration, 900);
    assert.deepEqual(ours.axon, {
      ip: "198.51.100.23",
      port: 8091,
      ipType: 4,
      protocol: 4,
      version: 9012002,
      block: 905,
    });
    assert.equal(data.neurons.filter((n) => n.validatorPermit).length, 3);
  });

  it("serves the axon's metagraph source and refreshes periodically", async () => {
    const watcher = await MetagraphWatcher.start({
      api: conn.api,
      netuid: DEMO_NETUID,
      hotkey: bob.address,
      intervalMs: 30,
    });
    try {
      assert.equal(watcher.current().size, 12);
      assert.equal(watcher.uid, OUR_UID);
      assert.equal(watcher.current().neuron(devKey("//subnet-hotkey-0").address)?.validatorPermit, true);
      chain.advanceBlocks(3);
      const [snapshot] = await once(watcher, "snapshot");
      assert.equal(snapshot.block, chain.blockNumber);
      assert.ok(watcher.ageMs() < 30_000, "the snapshot just emitted is fresh");
    } finally {
      watcher.stop();
    }
  });

  it("keeps the last good snapshot when refreshes fail, and its age grows", async () => {
    let now = 1_000_000;
    const logger = recordingLogger();
    const watcher = await MetagraphWatcher.start({
      api: conn.api,
      netuid: DEMO_NETUID,
      hotkey: bob.address,
      intervalMs: 3_600_000,
      logger,
      now: () => now,
    });
    try {
      const good = watcher.current();
      assert.equal(watcher.ageMs(), 0);
      chain.intercept = (method) =>
        method === "state_call" ? { error: { code: -32000, message: "Client error: node is syncing" } } : undefined;
      now += 300_000;
      assert.equal(await watcher.refresh(), false);
      assert.equal(watcher.current(), good, "last good snapshot kept");
      assert.equal(watcher.ageMs(), 300_000);
      assert.match(watcher.lastError?.message ?? "", /node is syncing/);
      assert.ok(logger.lines.some((l) => l.level === "warn" && /keeping the last good snapshot/.test(l.message)));

      chain.intercept = () => undefined;
      assert.equal(await watcher.refresh(), true);
      assert.notEqual(watcher.current(), good);
      assert.equal(watcher.lastError, undefined);
    } finally {
      watcher.stop();
    }
  });

  it("alerts when our hotkey is deregistered and reports re-registration and uid changes", async () => {
    const logger = recordingLogger();
    const changes: MetagraphChange[] = [];
    const watcher = await MetagraphWatcher.start({
      api: conn.api,
      netuid: DEMO_NETUID,
      hotkey: bob.address,
      intervalMs: 3_600_000,
      logger,
      onChange: (c) => changes.push(c),
    });
    try {
      assert.equal(watcher.registered, true);
      // Pruned: uid 5 goes to someone else; Uids(netuid, bob) becomes None.
      chain.neurons[OUR_UID] = {
        ...chain.neurons[OUR_UID]!,
        hotkey: devKey("//newcomer").address,
        blockAtRegistration: 1200,
      };
      await watcher.refresh();
      assert.equal(watcher.registered, false);
      assert.equal(watcher.uid, undefined);
      assert.deepEqual(changes, [{ kind: "deregistered", previousUid: OUR_UID }]);
      const alert = logger.lines.find((l) => l.level === "error" && l.details?.alert === true);
      assert.ok(alert, "alert-level log");
      assert.match(alert.message, /not registered/);

      // Registered again, at another uid.
      chain.neurons[9] = { ...chain.neurons[9]!, hotkey: bob.address, blockAtRegistration: 1300 };
      await watcher.refresh();
      assert.equal(watcher.uid, 9);
      assert.deepEqual(changes.at(-1), { kind: "registered", uid: 9 });

      // Moved to another uid between two refreshes.
      chain.neurons[9] = { ...chain.neurons[9]!, hotkey: devKey("//other").address };
      chain.neurons[10] = { ...chain.neurons[10]!, hotkey: bob.address, blockAtRegistration: 1400 };
      await watcher.refresh();
      assert.deepEqual(changes.at(-1), { kind: "uid-changed", from: 9, to: 10 });

      // Same uid, new registration block: pruned and re-registered in between.
      chain.neurons[10] = { ...chain.neurons[10]!, blockAtRegistration: 1500 };
      await watcher.refresh();
      assert.deepEqual(changes.at(-1), { kind: "reregistered", uid: 10, blockAtRegistration: 1500 });
    } finally {
      watcher.stop();
    }
  });

  it("alerts at start when the hotkey is not registered", async () => {
    const logger = recordingLogger();
    const watcher = await MetagraphWatcher.start({
      api: conn.api,
      netuid: DEMO_NETUID,
      hotkey: devKey("//Eve").address,
      logger,
    });
    watcher.stop();
    assert.equal(watcher.registered, false);
    assert.ok(logger.lines.some((l) => l.level === "error" && l.details?.alert === true));
  });

  it("fails to start with a clear error when the first read fails", async () => {
    chain.intercept = (method) => (method === "state_call" ? { result: "0x1234" } : undefined);
    await assert.rejects(
      MetagraphWatcher.start({ api: conn.api, netuid: DEMO_NETUID }),
      /could not read the metagraph of netuid 323: .*(decode|complete)/,
    );
  });
});
