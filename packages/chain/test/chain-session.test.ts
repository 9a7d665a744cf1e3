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

  it("serves several hotkeys: one watcher, one announcer each on its own port, changes routed to their hotkey", async () => {
    const second = devKey("//Bob//2");
    const neurons = demoNeurons(bob.address);
    neurons[7] = { ...neurons[7]!, hotkey: second.address };
    const own = await LoopbackChain.start({ netuid: DEMO_NETUID, neurons });
    const session = await startChainSession({
      endpoint: own.url,
      netuid: DEMO_NETUID,
      hotkey: bob,
      moreHotkeys: [second],
      refreshMs: 3_600_000,
    });
    try {
      assert.equal(session.metagraph.uidOf(second.address), 7);
      const first = await session.announce({ ip: "198.51.100.44", port: 8091, version: 9012002 });
      const other = await session.announce({ ip: "198.51.100.44", port: 8092, version: 9012002 }, { hotkey: second });
      assert.equal(first.lastResult?.action, "served");
      assert.equal(other.lastResult?.action, "served");
      assert.equal(own.neurons[OUR_UID]?.axon?.port, 8091);
      assert.equal(own.neurons[7]?.axon?.port, 8092);
      // The second hotkey is pruned and registered again at another uid: only its announcer re-serves.
      const seen: string[] = [];
      session.metagraph.on("change", (_change, hotkey: string) => seen.push(hotkey));
      own.neurons[7] = { ...own.neurons[7]!, hotkey: devKey("//newcomer").address };
      await session.metagraph.refresh();
      own.neurons[9] = { ...own.neurons[9]!, hotkey: second.address, blockAtRegistration: 1300, axon: undefined };
      const served = once(other, "result");
      await session.metagraph.refresh();
      await served;
      assert.deepEqual(seen, [second.address, second.address]);
      assert.equal(own.neurons[9]?.axon?.port, 8092);
      assert.equal(
        own.submissions.filter((x) => x.method === "serveAxon" && x.signer === bob.address).length,
        1,
        "the first hotkey was not re-announced",
      );
    } finally {
      await session.close();
      await own.close();
    }
  });
});
