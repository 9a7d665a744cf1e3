// Runs the loopback subtensor standalone, for trying `roadwork status` / `roadwork serve-axon` without a node:
//   node --import tsx packages/chain/test/support/serve-loopback-chain.ts [--port 9944] [--network testnet]
//        [--hotkey <ss58>] [--block-ms 12000]
// The miner hotkey (//Bob unless --hotkey) is registered at uid 5 on netuid 323.
import { parseArgs } from "node:util";
import { DEMO_NETUID, demoNeurons, devKey, OUR_UID } from "./demo-subnet.ts";
import { LoopbackChain } from "./loopback-chain.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    network: { type: "string", default: "mainnet" },
    hotkey: { type: "string" },
    "block-ms": { type: "string", default: "12000" },
  },
});
if (values.network !== "mainnet" && values.network !== "testnet") throw new Error("--network is mainnet or testnet");
const hotkey = values.hotkey ?? devKey("//Bob").address;
const chain = await LoopbackChain.start({
  network: values.network,
  netuid: DEMO_NETUID,
  neurons: demoNeurons(hotkey),
  port: Number(values.port),
});
const blockMs = Number(values["block-ms"]);
const ticker = blockMs > 0 ? setInterval(() => chain.advanceBlocks(1), blockMs) : undefined;
console.log(chain.url);
console.error(
  `loopback subtensor (${values.network} runtime spec ${chain.material.specVersion}) on ${chain.url}, ` +
    `netuid ${DEMO_NETUID}, miner ${hotkey} at uid ${OUR_UID}; Ctrl-C stops it`,
);
const stop = async () => {
  clearInterval(ticker);
  await chain.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
