// One read of "how does the chain see this miner": the data behind `roadwork status` and any scheduled chain watch.
import type { ApiPromise } from "@polkadot/api";
import {
  type AxonInfo,
  normaliseHotkey,
  readAxon,
  readHyperparameters,
  readMetagraph,
  readOwnUid,
} from "./metagraph-reader.ts";
import { type DesiredAxon, planServeAxon, servingRateLimitStatus } from "./serve-axon.ts";

export interface MinerStatus {
  chain: string;
  specVersion: number;
  block: number;
  netuid: number;
  hotkey: string;
  registered: boolean;
  uid: number | null;
  /** total_stake / 1e9 */
  stake: number | null;
  /** u16 / 65535 */
  incentive: number | null;
  /** rao / 1e9 per tempo */
  emission: number | null;
  validators: { withPermit: number; neurons: number };
  hyperparameters: { tempo: number; immunityPeriod: number; servingRateLimit: number };
  /** ImmunityPeriod - (block - BlockAtRegistration), floored at 0; null when unknown. */
  immunityLeftBlocks: number | null;
  axon: { onChain: string | null; servedAtBlock: number | null; version: number | null };
  /** The configured axon compared with the chain; null when none was given. */
  configured: { axon: string; matches: boolean; reason: string; nextAllowedBlock: number | null } | null;
  /** When the metagraph was read (unix ms) and how long the reads took. */
  metagraph: { block: number; takenAt: number; readMs: number };
}

const axonText = (a: AxonInfo | undefined) => (a && a.ip !== 0n ? `${a.ipText}:${a.port}` : null);

export async function readMinerStatus(
  api: ApiPromise,
  input: { netuid: number; hotkey: string; desired?: DesiredAxon; timeoutMs?: number },
): Promise<MinerStatus> {
  const { netuid, desired } = input;
  const hotkey = normaliseHotkey(input.hotkey);
  const options = { timeoutMs: input.timeoutMs };
  const started = Date.now();
  const [metagraph, uid, onChain, hyper] = await Promise.all([
    readMetagraph(api, netuid, options),
    readOwnUid(api, netuid, hotkey, options),
    readAxon(api, netuid, hotkey, options),
    readHyperparameters(api, netuid, options),
  ]);
  const readMs = Date.now() - started;
  const me = metagraph.neurons.find((n) => n.hotkey === hotkey);
  const block = metagraph.block;
  let configured: MinerStatus["configured"] = null;
  if (desired) {
    const plan = planServeAxon({ netuid, onChain, desired });
    const limit = servingRateLimitStatus({
      servingRateLimit: hyper.servingRateLimit,
      currentBlock: block,
      lastServedBlock: onChain?.block ?? 0,
    });
    configured = {
      axon: `${desired.ip}:${desired.port}`,
      matches: plan.action === "skip",
      reason: plan.reason,
      nextAllowedBlock: plan.action === "serve" ? limit.nextAllowedBlock : null,
    };
  }
  return {
    chain: api.runtimeChain.toString(),
    specVersion: api.runtimeVersion.specVersion.toNumber(),
    block,
    netuid,
    hotkey,
    registered: uid !== undefined,
    uid: uid ?? null,
    stake: me?.stake ?? null,
    incentive: me?.incentive ?? null,
    emission: me?.emission ?? null,
    validators: {
      withPermit: metagraph.neurons.filter((n) => n.validatorPermit).length,
      neurons: metagraph.neurons.length,
    },
    hyperparameters: hyper,
    immunityLeftBlocks:
      me?.blockAtRegistration === undefined
        ? null
        : Math.max(0, hyper.immunityPeriod - (block - me.blockAtRegistration)),
    axon: { onChain: axonText(onChain), servedAtBlock: onChain?.block ?? null, version: onChain?.version ?? null },
    configured,
    metagraph: { block, takenAt: metagraph.takenAt ?? started, readMs },
  };
}
