// Hard-case mining: which unlabelled captures are worth a label. Uncertainty (how close the model's score is to the
// decision threshold, and how much the ensemble members / TTA views disagree) times diversity (weighted k-center
// greedy over backbone embeddings, so the batch covers the embedding space instead of fifty copies of one confusing
// scene). Pure: scores and embeddings come from the caller (the CLI computes them with the serving bundle).
//
// Sources: uncertainty sampling (Lewis & Gale 1994, "A sequential algorithm for training text classifiers"; margin
// form as in Settles 2009, "Active Learning Literature Survey", §3.1); core-set selection by k-center greedy (Sener &
// Savarese 2018, "Active Learning for Convolutional Neural Networks: A Core-Set Approach", ICLR, Algorithm 1);
// weighting the k-center distance by uncertainty follows the hybrid uncertainty × diversity strategies surveyed in
// Ren et al. 2021, "A Survey of Deep Active Learning", §4.2. Query-by-committee disagreement: Seung et al. 1992.
import { z } from "zod";

export interface MiningCandidate {
  sha256: string;
  /** The model's served score, in [0, 1]; the decision is score > threshold. */
  score: number;
  /** Probabilities of the ensemble members × TTA views, when the bundle has more than one; empty otherwise. */
  views: readonly number[];
  /** Backbone embedding (any length, the same for every candidate). */
  embedding: ArrayLike<number>;
}

export const MiningOptionsSchema = z
  .object({
    /** How many cases to pick. */
    budget: z.number().int().min(1),
    /** The score where the answer flips (0.5 for a served, calibrated score). */
    threshold: z.number().gt(0).lt(1).default(0.5),
    /**
     * Floor added to every candidate's uncertainty weight, so a confident but far-away (novel) image can still be
     * picked once the uncertain region is covered. 0 = pure uncertainty-weighted; large = plain k-center.
     */
    diversityFloor: z.number().min(0).default(0.1),
  })
  .strict();
export type MiningOptions = z.input<typeof MiningOptionsSchema>;

export interface MinedCase {
  sha256: string;
  score: number;
  /** 1 at the threshold, 0 at a fully confident score (margin uncertainty). */
  margin: number;
  /** 2 × the standard deviation of the member/view probabilities, in [0, 1]; 0 without an ensemble. */
  disagreement: number;
  /** Combined: 1 − (1 − margin)(1 − disagreement), either signal makes a case uncertain. */
  uncertainty: number;
  /** Distance to the nearest already chosen (or labelled) case when picked; Infinity for the first pick. */
  coverDistance: number;
  /** 0 = picked first. */
  rank: number;
}

export function marginUncertainty(score: number, threshold: number): number {
  const span = score > threshold ? 1 - threshold : threshold;
  return Math.max(0, 1 - Math.abs(score - threshold) / span);
}

export function disagreement(views: readonly number[]): number {
  if (views.length < 2) return 0;
  const mean = views.reduce((s, v) => s + v, 0) / views.length;
  const variance = views.reduce((s, v) => s + (v - mean) ** 2, 0) / views.length;
  return Math.min(1, 2 * Math.sqrt(variance));
}

function normalized(v: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(v as ArrayLike<number>);
  let n = 0;
  for (const x of out) n += x * x;
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / n;
  return out;
}

function distance(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return Math.sqrt(s);
}

/**
 * Picks up to `budget` candidates: the most uncertain first, then repeatedly the candidate maximising
 * (diversityFloor + uncertainty) × distance to the nearest chosen or already-labelled embedding.
 * Embeddings are L2-normalised first, so distances are chordal cosine distances in [0, 2].
 */
export function mineHardCases(
  candidates: readonly MiningCandidate[],
  options: MiningOptions,
  labelled: readonly ArrayLike<number>[] = [],
): MinedCase[] {
  const o = MiningOptionsSchema.parse(options);
  if (candidates.length === 0) return [];
  const dim = candidates[0]!.embedding.length;
  for (const c of candidates) {
    if (c.embedding.length !== dim)
      throw new Error(`embedding of ${c.sha256} has ${c.embedding.length} dims, not ${dim}`);
    if (!Number.isFinite(c.score)) throw new Error(`score of ${c.sha256} is not finite`);
  }
  const points = candidates.map((c) => normalized(c.embedding));
  const stats = candidates.map((c) => {
    const margin = marginUncertainty(c.score, o.threshold);
    const d = disagreement(c.views);
    return { margin, disagreement: d, uncertainty: 1 - (1 - margin) * (1 - d) };
  });
  // Nearest chosen center per candidate; the labelled pool counts as already chosen (Sener & Savarese's s⁰).
  const nearest = new Float64Array(candidates.length).fill(Number.POSITIVE_INFINITY);
  for (const l of labelled) {
    const p = normalized(l);
    for (let i = 0; i < points.length; i++) nearest[i] = Math.min(nearest[i] as number, distance(points[i]!, p));
  }
  const chosen: MinedCase[] = [];
  const taken = new Uint8Array(candidates.length);
  const budget = Math.min(o.budget, candidates.length);
  while (chosen.length < budget) {
    let best = -1;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < candidates.length; i++) {
      if (taken[i]) continue;
      const w = o.diversityFloor + stats[i]!.uncertainty;
      const d = nearest[i] as number;
      // Before any center exists every distance is Infinity: fall back to the weight alone (most uncertain first).
      const value = Number.isFinite(d) ? w * d : w * 1e9;
      if (value > bestValue || (value === bestValue && candidates[i]!.sha256 < candidates[best]!.sha256)) {
        best = i;
        bestValue = value;
      }
    }
    if (best < 0) break;
    taken[best] = 1;
    const c = candidates[best]!;
    chosen.push({
      sha256: c.sha256,
      score: c.score,
      ...stats[best]!,
      coverDistance: nearest[best] as number,
      rank: chosen.length,
    });
    // A duplicate of a chosen image adds nothing: once every remaining candidate is at distance 0, stop.
    for (let i = 0; i < points.length; i++) {
      if (!taken[i]) nearest[i] = Math.min(nearest[i] as number, distance(points[i]!, points[best]!));
    }
    let anyLeft = false;
    for (let i = 0; i < points.length; i++) if (!taken[i] && (nearest[i] as number) > 1e-9) anyLeft = true;
    if (!anyLeft) break;
  }
  return chosen;
}
