// Is the subnet paying at all (spec §4.7: in May 2026 NATIX halted StreetVision by pointing every validator's weight at
// the owner uid, which burns the miners' emission)? One read of incentives, the subnet owner and the permitted
// validators' weights, folded into one of four states an operator can act on: keep serving, fix this miner, or stop
// paying for a GPU that earns nothing.
import type { ApiPromise } from "@polkadot/api";
import type { Codec } from "@polkadot/types/types";
import { normaliseHotkey, type ReadOptions, readMetagraph } from "./metagraph-reader.ts";
import type { MetagraphSnapshotData } from "./metagraph-snapshot.ts";
import { DEFAULT_CALL_TIMEOUT_MS, withTimeout } from "./timeout.ts";

/** paying: this miner earns. paying-others: miners earn, this one does not. burning: validators weight the owner
 * uid (emission burned). silent: nobody earns and no validator sets weights. */
export type PulseState = "paying" | "paying-others" | "burning" | "silent";
export const PULSE_STATES: readonly PulseState[] = ["paying", "paying-others", "burning", "silent"];

/** Stake-weighted share of validator weight on the owner uid above which the subnet counts as burning. */
export const BURN_SHARE = 0.9;

export interface PulseNeuron {
  uid: number;
  hotkey: string;
  coldkey?: string | undefined;
  stake: number;
  validatorPermit: boolean;
  incentive?: number | undefined;
  emission?: number | undefined;
}

export interface PulseInput {
  netuid: number;
  block: number;
  /** This miner's uid, null when its hotkey is not registered. */
  uid: number | null;
  neurons: PulseNeuron[];
  /** The subnet owner's uid, null when the owner holds no uid (or the runtime does not say). */
  ownerUid: number | null;
  /** Weights set by permitted validators: validator uid -> [target uid, u16 weight][]. */
  weights: Map<number, [number, number][]>;
}

export interface SubnetPulse {
  state: PulseState;
  /** One line for `roadwork status` and alarms. */
  line: string;
  netuid: number;
  block: number;
  uid: number | null;
  incentive: number | null;
  emission: number | null;
  ownerUid: number | null;
  /** Stake-weighted share of permitted validators' weight that goes to the owner uid (null: no weights set). */
  ownerWeightShare: number | null;
  validatorsWithPermit: number;
  validatorsSettingWeights: number;
  /** Neurons other than the owner with incentive > 0. */
  payingMiners: number;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

export function classifyPulse(input: PulseInput): SubnetPulse {
  const me = input.uid === null ? undefined : input.neurons.find((n) => n.uid === input.uid);
  const validators = input.neurons.filter((n) => n.validatorPermit);
  let weighted = 0;
  let ownerWeighted = 0;
  let setting = 0;
  for (const v of validators) {
    const row = input.weights.get(v.uid) ?? [];
    const total = row.reduce((a, [, w]) => a + w, 0);
    if (total <= 0) continue;
    setting++;
    const stake = v.stake > 0 ? v.stake : 1e-9; // a permit with zero stake still counts, barely
    weighted += stake;
    ownerWeighted += (stake * row.filter(([t]) => t === input.ownerUid).reduce((a, [, w]) => a + w, 0)) / total;
  }
  const ownerWeightShare = weighted > 0 ? ownerWeighted / weighted : null;
  const paying = input.neurons.filter((n) => n.uid !== input.ownerUid && (n.incentive ?? 0) > 0);
  const ownerIncentive = input.neurons.find((n) => n.uid === input.ownerUid)?.incentive ?? 0;
  const mine = (me?.incentive ?? 0) > 0 || (me?.emission ?? 0) > 0;

  let state: PulseState;
  let line: string;
  if (mine && me) {
    state = "paying";
    line = `paying: this miner (uid ${me.uid}) earns incentive ${(me.incentive ?? 0).toFixed(4)}, emission ${(me.emission ?? 0).toFixed(6)} per tempo; ${paying.length} miners paid`;
  } else if (
    (ownerWeightShare !== null && ownerWeightShare >= BURN_SHARE) ||
    (paying.length === 0 && ownerIncentive > 0)
  ) {
    state = "burning";
    line =
      ownerWeightShare !== null
        ? `burning: ${pct(ownerWeightShare)} of validator weight goes to the owner uid ${input.ownerUid}; miners' emission is burned`
        : `burning: only the owner uid ${input.ownerUid} has incentive; miners' emission is burned`;
  } else if (paying.length > 0) {
    state = "paying-others";
    line =
      input.uid === null
        ? `paying others: ${paying.length} miners earn; this hotkey is not registered`
        : `paying others: ${paying.length} miners earn, this miner (uid ${input.uid}) has no incentive`;
  } else {
    state = "silent";
    line = `silent: no miner earns and ${setting === 0 ? "no validator sets weights" : `${setting} validators set weights to nobody paid`}`;
  }
  return {
    state,
    line,
    netuid: input.netuid,
    block: input.block,
    uid: input.uid,
    incentive: me?.incentive ?? null,
    emission: me?.emission ?? null,
    ownerUid: input.ownerUid,
    ownerWeightShare,
    validatorsWithPermit: validators.length,
    validatorsSettingWeights: setting,
    payingMiners: paying.length,
  };
}

async function query(api: ApiPromise, name: string, args: unknown[], timeoutMs: number): Promise<Codec | undefined> {
  const entry = api.query.subtensorModule?.[name];
  if (!entry) return undefined; // older runtimes lack e.g. SubnetOwnerHotkey
  return withTimeout(entry(...args), timeoutMs, `SubtensorModule.${name}`);
}

/** The owner's uid: SubnetOwnerHotkey where the runtime has it, else the first neuron of the owner's coldkey. */
async function readOwnerUid(
  api: ApiPromise,
  netuid: number,
  neurons: MetagraphSnapshotData["neurons"],
  timeoutMs: number,
): Promise<number | null> {
  const hotkey = await query(api, "subnetOwnerHotkey", [netuid], timeoutMs);
  if (hotkey && !hotkey.isEmpty) {
    const address = normaliseHotkey(hotkey.toString());
    const n = neurons.find((x) => x.hotkey === address);
    if (n) return n.uid;
  }
  const coldkey = await query(api, "subnetOwner", [netuid], timeoutMs);
  if (coldkey && !coldkey.isEmpty) {
    const address = normaliseHotkey(coldkey.toString());
    const owned = neurons.filter((x) => x.coldkey === address).sort((a, b) => a.uid - b.uid);
    if (owned[0]) return owned[0].uid;
  }
  return null;
}

export async function readSubnetPulse(
  api: ApiPromise,
  input: { netuid: number; hotkey: string; metagraph?: MetagraphSnapshotData } & ReadOptions,
): Promise<SubnetPulse> {
  const timeoutMs = input.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const metagraph = input.metagraph ?? (await readMetagraph(api, input.netuid, { timeoutMs }));
  const hotkey = normaliseHotkey(input.hotkey);
  const validators = metagraph.neurons.filter((n) => n.validatorPermit);
  const [ownerUid, rows] = await Promise.all([
    readOwnerUid(api, input.netuid, metagraph.neurons, timeoutMs),
    Promise.all(validators.map((v) => query(api, "weights", [input.netuid, v.uid], timeoutMs))),
  ]);
  const weights = new Map<number, [number, number][]>();
  validators.forEach((v, i) => {
    const row = rows[i] as unknown as { toJSON(): unknown } | undefined;
    const json = row?.toJSON();
    if (Array.isArray(json))
      weights.set(
        v.uid,
        json.map((p) => [Number((p as number[])[0]), Number((p as number[])[1])]),
      );
  });
  return classifyPulse({
    netuid: input.netuid,
    block: metagraph.block,
    uid: metagraph.neurons.find((n) => n.hotkey === hotkey)?.uid ?? null,
    neurons: metagraph.neurons,
    ownerUid,
    weights,
  });
}
