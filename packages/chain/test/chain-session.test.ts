import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { startChainSession } from "../src/chain-session.ts";
import { DEMO_NETUID, demoNeurons, devKey, OUR_UID } from "./support/demo-subnet.ts";
import { LoopbackChain } from "./support/loopback-chain.ts";

describe("chain session for a running axon", () => {
  let chain: LoopbackChain;
  const bob = devKey("//Bob");
  before(async () => {
    chain = await LoopbackChain.start({ netuid: DEMO_NETUID, neurons: demoNeurons(bob.address) });
  });
  after(() => chain.close());

  it("provides the metagraph source, refreshes after a reconnect, and announces the axon", async () => {
    const session = await startChainSession({
      endpoint: chain.url,
      netuid: DEMO_NETUID,
      hotkey: bob,
      refreshMs: 3_600_000,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50, maxAttempts: 20 },
    });
    try {
      assert.equal(session.metagraph.current().neuron(bob.address)?.uid, OUR_UID);
      chain.advanceBlocks(7);
      const refreshed = once(session.metagraph, "snapshot");
      chain.dropConnections();
      const [snapshot] = await refreshed;
      assert.equal(snapshot.block, chain.blockNumber, "fresh snapshot right after reconnecting");

      const announcer = await session.announce({ ip: "198.51.100.44", port: 8091, version: 9012002 });
      assert.equal(announcer.lastResult?.action, "served");
      assert.equal(chain.neurons[OUR_UID]?.axon?.ip, 3325256748n);
    } finally {
      await session.close();
    }
  });
});
