// `roadwork snapshot`: the metagraph snapshot file `roadwork serve --metagraph` reads. From the chain (every neuron
// of the subnet at the current block), or a local one: this miner's hotkey plus one validator whose throwaway seed is
// printed for `roadwork query --dendrite-seed`.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { defineCommand, UsageError } from "../command.ts";
import { chainTarget, parseNetuid } from "./status.ts";

export const command = defineCommand({
  name: "snapshot",
  summary: "write a metagraph snapshot file, from the chain or a local one with its keys",
  usage: "(--local | --endpoint <ws url>) [--netuid <n>] [--out snapshot.json] [options]",
  description: `--local needs no chain: the miner is the hotkey 'roadwork serve' will use (ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC,
ROADWORK_WALLET_NAME + ROADWORK_WALLET_HOTKEY, or --hotkey <ss58>), and one validator with a permit signs with a
fresh random seed (or --validator-seed), printed so that 'roadwork query --dendrite-seed' can use it. The seed is a
throwaway local key: it is in no real metagraph. Otherwise every neuron is read from the node at --endpoint
($ROADWORK_CHAIN_ENDPOINT); refresh the file and send SIGHUP to 'roadwork serve' to reload it.`,
  options: {
    local: { type: "boolean", help: "write a local snapshot (no chain) and print its validator key" },
    endpoint: { type: "string", value: "<ws url>", help: "subtensor node to read (default: $ROADWORK_CHAIN_ENDPOINT)" },
    netuid: { type: "string", value: "<n>", help: "the subnet (72 mainnet, 323 testnet; --local default 323)" },
    out: { type: "string", value: "<file>", default: "snapshot.json", help: "where to write the snapshot" },
    hotkey: { type: "string", value: "<ss58>", help: "--local: the miner's hotkey (default: from the environment)" },
    "validator-seed": {
      type: "string",
      value: "<0x seed>",
      help: "--local: the validator's 32-byte seed (default: random)",
    },
    port: { type: "string", value: "<n>", default: "8091", help: "--local: the miner's axon port" },
    timeout: { type: "string", value: "<s>", help: "per-call timeout with --endpoint (default 20)" },
  },
  async run({ values }) {
    if (values.local) {
      const netuid = values.netuid === undefined ? 323 : parseNetuid(values.netuid);
      const { hotkeySourceFromEnv, loadHotkey } = await import("@roadwork/chain/keys");
      const { MetagraphSnapshot, normaliseHotkey } = await import("@roadwork/chain");
      let miner: string;
      if (values.hotkey) miner = normaliseHotkey(values.hotkey);
      else {
        const source = hotkeySourceFromEnv(process.env);
        if (Object.keys(source).length === 0) {
          throw new UsageError(
            "no miner hotkey: set ROADWORK_HOTKEY_MNEMONIC (or ROADWORK_HOTKEY_SEED / ROADWORK_WALLET_NAME) as for 'roadwork serve', or pass --hotkey <ss58>",
          );
        }
        miner = (await loadHotkey(source)).address;
      }
      const seed = values["validator-seed"] ?? `0x${randomBytes(32).toString("hex")}`;
      if (!/^0x[0-9a-fA-F]{64}$/.test(seed))
        throw new UsageError("--validator-seed must be 0x followed by 64 hex digits");
      const validator = await loadHotkey({ seedHex: seed });
      if (validator.address === miner) throw new UsageError("the validator seed is the miner's own key; use another");
      const port = Number(values.port);
      const data = {
        netuid,
        block: 0,
        takenAt: Date.now(),
        neurons: [
          {
            uid: 0,
            hotkey: miner,
            stake: 0,
            validatorPermit: false,
            active: true,
            axon: { ip: "127.0.0.1", port, ipType: 4 as const, protocol: 4, version: 0, block: 0 },
          },
          { uid: 1, hotkey: validator.address, stake: 10_000, validatorPermit: true, active: true },
        ],
      };
      MetagraphSnapshot.parse(data);
      await writeFile(values.out, `${JSON.stringify(data, null, 1)}\n`);
      console.log(
        JSON.stringify(
          { out: values.out, netuid, miner, validator: { hotkey: validator.address, seed }, neurons: 2 },
          null,
          2,
        ),
      );
      console.error(
        `wrote ${values.out}: miner ${miner} (uid 0), validator ${validator.address} (uid 1, permit).\n` +
          `query it with: roadwork query --url http://127.0.0.1:${port} --image <file> --dendrite-seed ${seed}`,
      );
      return 0;
    }
    if (values.endpoint === undefined && !process.env.ROADWORK_CHAIN_ENDPOINT) {
      throw new UsageError("give --local for a local snapshot, or --endpoint <ws url> to read the chain");
    }
    const netuid = parseNetuid(values.netuid);
    const { endpoint, timeoutMs } = chainTarget(values);
    const { connectSubtensor, readMetagraph } = await import("@roadwork/chain");
    const conn = await connectSubtensor({ endpoint, connectTimeoutMs: timeoutMs, callTimeoutMs: timeoutMs });
    try {
      const data = await readMetagraph(conn.api, netuid, { timeoutMs });
      await writeFile(values.out, `${JSON.stringify(data, null, 1)}\n`);
      const permits = data.neurons.filter((n) => n.validatorPermit).length;
      console.log(
        JSON.stringify({
          out: values.out,
          netuid,
          block: data.block,
          neurons: data.neurons.length,
          validators: permits,
        }),
      );
      console.error(
        `wrote ${values.out}: ${data.neurons.length} neurons (${permits} with a validator permit) at block ${data.block}`,
      );
      return 0;
    } finally {
      await conn.disconnect();
    }
  },
});
