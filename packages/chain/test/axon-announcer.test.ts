import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { AxonAnnouncer } from "../src/axon-announcer.ts";
import type { SubtensorConnection } from "../src/connection.ts";
import { MetagraphWatcher } from "../src/metagraph-watcher.ts";
import type { EnsureServingResult } from "../src/serve-axon.ts";
import { startDemoChain } from "./support/demo-chain.ts";
import { DEMO_NETUID, devKey, OUR_UID } from "./support/demo-subnet.ts";
import type { LoopbackChain } from "./support/loopback-chain.ts";
import { recordingLogger } from "./support/recording-logger.ts";

describe("AxonAnnouncer against a loopback subtensor", () => {
  let chain: LoopbackChain;
  let conn: SubtensorConnection;
  const bob = devKey("//Bob");
  let stop: () => Promise<void>;
  before(async () => {
    ({ chain, conn, stop } = await startDemoChain(bob));
  });
  after(() => stop());

  it("skips at start, serves a new address, retries at the allowed block, re-serves after re-registration", async () => {
    const logger = recordingLogger();
    const watcher = await MetagraphWatcher.start({
      api: conn.api,
      netuid: DEMO_NETUID,
      hotkey: bob.address,
      intervalMs: 3_600_000,
    });
    const announcer = new AxonAnnouncer({
      api: conn.api,
      netuid: DEMO_NETUID,
      hotkey: bob,
      desired: { ip: "198.51.100.23", port: 8091, version: 9012002 },
      watcher,
      logger,
      blockMs: 5,
    });
    const action = () => announcer.lastResult?.action as string | undefined;
    try {
      await announcer.start();
      assert.equal(action(), "skipped");

      await announcer.updateDesired({ ip: "198.51.100.30", port: 8091, version: 9012002 });
      assert.equal(action(), "served");
      const servedAt = chain.neurons[OUR_UID]!.axon!.block;

      // Too soon: rate-limited, retried by itself once the chain reaches the allowed block.
      const retried = once(announcer, "result");
      await announcer.updateDesired({ ip: "198.51.100.31", port: 8091, version: 9012002 });
      assert.equal(action(), "rate-limited");
      await retried;
      chain.advanceBlocks(servedAt + 50 - chain.blockNumber);
      let result: EnsureServingResult;
      do [result] = (await once(announcer, "result")) as [EnsureServingResult];
      while (result.action !== "served");
      assert.equal(chain.neurons[OUR_UID]!.axon!.ip, 3325256735n);

      // Pruned and registered again: the new registration has no axon; the watcher's event triggers a serve.
      chain.advanceBlocks(60);
      chain.neurons[OUR_UID] = { ...chain.neurons[OUR_UID]!, axon: undefined, blockAtRegistration: chain.blockNumber };
      const served = once(announcer, "result");
      await watcher.refresh();
      const [afterReg] = (await served) as [EnsureServingResult];
      assert.equal(afterReg.action, "served");
      assert.equal(chain.neurons[OUR_UID]!.axon?.ip, 3325256735n);
      assert.ok(logger.lines.some((l) => /registration changed/.test(l.message)));
    } finally {
      announcer.stop();
      watcher.stop();
    }
  });
});
