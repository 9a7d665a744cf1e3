import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectSubtensor, type SubtensorConnection } from "../src/connection.ts";
import { readMinerStatus } from "../src/miner-status.ts";
import { DEMO_NETUID, demoNeurons, devKey, OUR_UID } from "./support/demo-subnet.ts";
import { LoopbackChain } from "./support/loopback-chain.ts";

describe("readMinerStatus against a loopback subtensor", () => {
  let chain: LoopbackChain;
  let conn: SubtensorConnection;
  const bob = devKey("//Bob");
  before(async () => {
    chain = await LoopbackChain.start({ netuid: DEMO_NETUID, neurons: demoNeurons(bob.address), blockNumber: 1200 });
    conn = await connectSubtensor({ endpoint: chain.url });
  });
  after(async () => {
    await conn.disconnect();
    await chain.close();
  });

  it("reports a registered miner with its axon compared to the configured one", async () => {
    const status = await readMinerStatus(conn.api, {
      netuid: DEMO_NETUID,
      hotkey: bob.address,
      desired: { ip: "198.51.100.23", port: 8091, version: 9012002 },
    });
    assert.equal(status.registered, true);
    assert.equal(status.uid, OUR_UID);
    assert.equal(status.block, 1200);
    assert.equal(status.immunityLeftBlocks, 5000 - (1200 - 900));
    assert.deepEqual(status.validators, { withPermit: 3, neurons: 12 });
    assert.deepEqual(status.axon, { onChain: "198.51.100.23:8091", servedAtBlock: 905, version: 9012002 });
    assert.deepEqual(status.configured, {
      axon: "198.51.100.23:8091",
      matches: true,
      reason: "on-chain axon already matches",
      nextAllowedBlock: null,
    });
    assert.equal(status.specVersion, 219);
  });

  it("reports a deregistered miner without per-uid figures", async () => {
    const status = await readMinerStatus(conn.api, { netuid: DEMO_NETUID, hotkey: devKey("//Dave").address });
    assert.equal(status.registered, false);
    assert.equal(status.uid, null);
    assert.equal(status.stake, null);
    assert.equal(status.immunityLeftBlocks, null);
    assert.equal(status.axon.onChain, null);
    assert.equal(status.configured, null);
  });
});
