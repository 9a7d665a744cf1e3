// The champion/challenger gate. Both models have scored the same frozen evaluation set (real images, every validator
// format); the gate estimates each one's subnet reward (0.5·MCC + 0.5·accuracy at the 0.5 decision point, MCC
// floored at 0 as the validators do), and promotes the challenger only when
//   1. a paired bootstrap over the evaluation items puts the reward gain's lower confidence bound above the margin, and
//   2. no validator format (nor the whole set) loses more than the tolerance.
// Every figure the decision rests on is returned, so it can be recorded and drawn.
import { Prng } from "@roadwork/data";
import { z } from "zod";
import { bankersRound } from "./metrics.ts";

export const GatePolicy = z.object({
  /** Bootstrap resamples of the evaluation set. */
  resamples: z.number().int().min(100).max(100_000).default(2000),
  /** Seed of the resampling (the same inputs always give the same decision). */
  seed: z.string().default("gate"),
  /** The gain's lower bound must exceed this (reward units, 0..1). */
  margin: z.number().min(0).max(1).default(0.005),
  /** One-sided confidence of that lower bound. */
  confidence: z.number().gt(0.5).lt(1).default(0.95),
  /** Largest reward loss tolerated on any one validator format (and on the whole set). */
  tolerance: z.number().min(0).max(1).default(0.02),
  /** With no champion, the challenger must reach this reward to be promoted. */
  minReward: z.number().min(0).max(1).default(0.5),
});
export type GatePolicy = z.infer<typeof GatePolicy>;

export interface GateItem {
  label: 0 | 1;
  /** Validator format of the item (e.g. "augmented", "letterbox", "native"). */
  format: string;
}

export interface RewardFigures {
  count: number;
  reward: number;
  mcc: number;
  accuracy: number;
}

export interface ModelFigures {
  version: string;
  overall: RewardFigures;
  byFormat: Record<string, RewardFigures>;
}

export interface GateDecision {
  decision: "promote" | "keep-champion";
  reasons: string[];
  policy: GatePolicy;
  items: number;
  challenger: ModelFigures;
  champion?: ModelFigures;
  /** Challenger − champion reward; absent without a champion. */
  gain?: {
    observed: number;
    lower: number;
    upper: number;
    /** Share of resamples in which the challenger did not gain. */
    pNoGain: number;
    /** Histogram of the resampled gains, for the picture. */
    histogram: { lo: number; hi: number; count: number }[];
  };
  /** Formats (or "all") where the challenger lost more than the tolerance. */
  regressions: { format: string; challenger: number; champion: number; delta: number }[];
}

/** The validators' per-window reward base, over a set of predictions (scores already mapped to 0.5). */
function figures(tp: number, fp: number, tn: number, fn: number): RewardFigures {
  const count = tp + fp + tn + fn;
  const accuracy = count === 0 ? 0 : (tp + tn) / count;
  const denom = Math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
  const mcc = denom === 0 ? 0 : Math.max(0, (tp * tn - fp * fn) / denom);
  return { count, reward: 0.5 * mcc + 0.5 * accuracy, mcc, accuracy };
}

/** Reward figures of served scores (calibrated: > 0.5 after banker's rounding means roadwork). */
export function rewardFigures(scores: readonly number[], labels: readonly number[]): RewardFigures {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    const p = Number.isFinite(s) && s >= 0 && s <= 1 ? bankersRound(s) : -1;
    const l = labels[i]!;
    if (p === 1 && l === 1) tp++;
    else if (p === 1) fp++;
    else if (p === 0 && l === 0) tn++;
    else if (p === 0) fn++;
    // Invalid answers (-1) score as wrong both ways: count them against the class they failed.
    else if (l === 1) fn++;
    else fp++;
  }
  return figures(tp, fp, tn, fn);
}

function modelFigures(version: string, scores: readonly number[], items: readonly GateItem[]): ModelFigures {
  const labels = items.map((i) => i.label);
  const byFormat: Record<string, RewardFigures> = {};
  for (const format of [...new Set(items.map((i) => i.format))].sort()) {
    const idx = items.flatMap((it, i) => (it.format === format ? [i] : []));
    byFormat[format] = rewardFigures(
      idx.map((i) => scores[i]!),
      idx.map((i) => labels[i]!),
    );
  }
  return { version, overall: rewardFigures(scores, labels), byFormat };
}

const quantile = (sorted: Float64Array, q: number): number => {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
};

/** Paired bootstrap of the reward gain: both models are scored on the same resampled items each round. */
function bootstrapGain(
  items: readonly GateItem[],
  challenger: readonly number[],
  champion: readonly number[],
  policy: GatePolicy,
): NonNullable<GateDecision["gain"]> {
  const n = items.length;
  // Per item: outcome code for each model (0 tn, 1 fp, 2 fn, 3 tp), precomputed once.
  const code = (scores: readonly number[]) =>
    Uint8Array.from(items, (it, i) => {
      const s = scores[i]!;
      const p = Number.isFinite(s) && s >= 0 && s <= 1 ? bankersRound(s) : 1 - it.label;
      return it.label === 1 ? (p === 1 ? 3 : 2) : p === 1 ? 1 : 0;
    });
  const a = code(challenger);
  const b = code(champion);
  const rewardOf = (c: Int32Array) => figures(c[3]!, c[1]!, c[0]!, c[2]!).reward;
  const rng = new Prng(`gate-bootstrap:${policy.seed}`);
  const gains = new Float64Array(policy.resamples);
  const ca = new Int32Array(4);
  const cb = new Int32Array(4);
  for (let r = 0; r < policy.resamples; r++) {
    ca.fill(0);
    cb.fill(0);
    for (let k = 0; k < n; k++) {
      const i = Math.floor(rng.next() * n);
      ca[a[i]!]!++;
      cb[b[i]!]!++;
    }
    gains[r] = rewardOf(ca) - rewardOf(cb);
  }
  const observedA = new Int32Array(4);
  const observedB = new Int32Array(4);
  for (let i = 0; i < n; i++) {
    observedA[a[i]!]!++;
    observedB[b[i]!]!++;
  }
  const sorted = gains.slice().sort();
  const lo = sorted[0]!;
  const hi = sorted[sorted.length - 1]!;
  const bins = 30;
  const width = hi > lo ? (hi - lo) / bins : 1;
  const histogram = Array.from({ length: bins }, (_, k) => ({
    lo: lo + k * width,
    hi: lo + (k + 1) * width,
    count: 0,
  }));
  for (const g of gains) histogram[Math.min(bins - 1, Math.floor((g - lo) / width))]!.count++;
  return {
    observed: rewardOf(observedA) - rewardOf(observedB),
    lower: quantile(sorted, 1 - policy.confidence),
    upper: quantile(sorted, policy.confidence),
    pNoGain: gains.filter((g) => g <= 0).length / gains.length,
    histogram,
  };
}

export interface GateInput {
  items: readonly GateItem[];
  challenger: { version: string; scores: readonly number[] };
  champion?: { version: string; scores: readonly number[] };
  policy?: Partial<GatePolicy>;
}

export function decidePromotion(input: GateInput): GateDecision {
  const policy = GatePolicy.parse(input.policy ?? {});
  const { items } = input;
  if (items.length === 0) throw new RangeError("the evaluation set is empty; the gate has nothing to decide on");
  for (const m of [input.challenger, input.champion]) {
    if (m && m.scores.length !== items.length) {
      throw new RangeError(`${m.version} has ${m.scores.length} scores for ${items.length} evaluation items`);
    }
  }
  const challenger = modelFigures(input.challenger.version, input.challenger.scores, items);
  const f = (x: number) => x.toFixed(4);
  if (!input.champion) {
    const ok = challenger.overall.reward >= policy.minReward;
    return {
      decision: ok ? "promote" : "keep-champion",
      reasons: [
        ok
          ? `no champion; the challenger's estimated reward ${f(challenger.overall.reward)} reaches ${policy.minReward}`
          : `no champion, but the challenger's estimated reward ${f(challenger.overall.reward)} is below ${policy.minReward}`,
      ],
      policy,
      items: items.length,
      challenger,
      regressions: [],
    };
  }
  const champion = modelFigures(input.champion.version, input.champion.scores, items);
  const gain = bootstrapGain(items, input.challenger.scores, input.champion.scores, policy);
  const regressions: GateDecision["regressions"] = [];
  const segments: [string, RewardFigures, RewardFigures][] = [
    ["all", challenger.overall, champion.overall],
    ...Object.keys(challenger.byFormat).map(
      (k) => [k, challenger.byFormat[k]!, champion.byFormat[k]!] as [string, RewardFigures, RewardFigures],
    ),
  ];
  for (const [format, c, p] of segments) {
    const delta = c.reward - p.reward;
    if (delta < -policy.tolerance) regressions.push({ format, challenger: c.reward, champion: p.reward, delta });
  }
  const reasons: string[] = [];
  const significant = gain.lower > policy.margin;
  reasons.push(
    significant
      ? `reward gain ${f(gain.observed)}; its ${policy.confidence * 100}% lower bound ${f(gain.lower)} is above the margin ${policy.margin} (${policy.resamples} paired resamples)`
      : `reward gain ${f(gain.observed)}; its ${policy.confidence * 100}% lower bound ${f(gain.lower)} is not above the margin ${policy.margin} (${policy.resamples} paired resamples)`,
  );
  for (const r of regressions) {
    reasons.push(
      `regression on ${r.format}: ${f(r.challenger)} vs ${f(r.champion)} (${f(r.delta)}, tolerance ${policy.tolerance})`,
    );
  }
  return {
    decision: significant && regressions.length === 0 ? "promote" : "keep-champion",
    reasons,
    policy,
    items: items.length,
    challenger,
    champion,
    gain,
    regressions,
  };
}
