// A loopback subtensor serving the demo subnet, with `miner` registered at OUR_UID, and a connection to it.
import type { KeyringPair } from "@polkadot/keyring/types";
import { connectSubtensor, type SubtensorConnection } from "../../src/connection.ts";
import { DEMO_NETUID, demoNeurons } from "./demo-subnet.ts";
import { LoopbackChain } from "./loopback-chain.ts";

export interface DemoChain {
  chain: LoopbackChain;
  conn: SubtensorConnection;
  /** Disconnects first, so the node sees a clean close, then stops the node. */
  stop(): Promise<void>;
}

export async function startDemoChain(miner: KeyringPair, options: { callTimeoutMs?: number } = {}): Promise<DemoChain> {
  const chain = await LoopbackChain.start({ netuid: DEMO_NETUID, neurons: demoNeurons(miner.address) });
  const conn = await connectSubtensor({ endpoint: chain.url, ...options });
  return {
    chain,
    conn,
    async stop() {
      await conn.disconnect();
      await chain.close();
    },
  };
}
