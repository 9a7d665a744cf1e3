// Quality gates for generated images. Each image gets every measurement and every failed check is a recorded reason;
// rejected images are kept (under rejected/) for inspection, never silently dropped. Thresholds and their sources
// are in docs/synthetic.md.
import { sniffMediaType } from "../dataset/image.ts";
import type { Teacher } from "../labels/teacher.ts";
import { cosine, type Embedder } from "./embedding-distance.ts";
import { hammingDistance, type ImageMeasures, measureImage, UndecodableImageError } from "./image-quality.ts";

export interface GateThresholds {
  /** Shorter side at least this (the validators' 224×224 target; native synthetic challenges are ~1024²). */
  minSide: number;
  /** Variance of the Laplacian on the 512-px luma plane below this = blurred. */
  minLaplacianVariance: number;
  /** Share of crushed-black or blown-white pixels above this = badly exposed. */
  maxClippedShare: number;
  /** pHash Hamming distance at or below this (of 64 bits) = near duplicate. */
  maxPhashDistance: number;
  /** Embedding cosine similarity at or above this = near duplicate. */
  maxEmbeddingCosine: number;
  /** The teacher must agree with the prompt's label with at least this confidence. */
  minTeacherConfidence: number;
}

export const DEFAULT_GATES: GateThresholds = {
  minSide: 224,
  minLaplacianVariance: 40,
  maxClippedShare: 0.25,
  maxPhashDistance: 6,
  maxEmbeddingCosine: 0.985,
  minTeacherConfidence: 0.6,
};

export const REJECTION_REASONS = [
  "undecodable",
  "too-small",
  "blurred",
  "underexposed",
  "overexposed",
  "near-duplicate-phash",
  "near-duplicate-embedding",
  "label-disagrees",
  "teacher-unsure",
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** What new images are compared with: the dataset's images (and, as the batch grows, its own accepted images). */
export class ReferenceSet {
  readonly phashes: { id: string; hash: string }[] = [];
  readonly embeddings: { id: string; vector: Float32Array }[] = [];
  add(id: string, hash?: string, vector?: Float32Array): void {
    if (hash) this.phashes.push({ id, hash });
    if (vector) this.embeddings.push({ id, vector });
  }
}

export interface GateDecision {
  accepted: boolean;
  reasons: RejectionReason[];
  measures?: ImageMeasures;
  embedding?: Float32Array;
  nearest?: { phash?: { id: string; distance: number }; embedding?: { id: string; cosine: number } };
  teacher?: { name: string; label: 0 | 1; confidence: number };
  detail: string[];
}

export interface GateContext {
  thresholds: GateThresholds;
  reference: ReferenceSet;
  embedder?: Embedder;
  /** The labelling teacher (Bedrock vision model or a local ensemble): confirms the prompt's label. */
  teacher?: Teacher;
}

export async function judgeImage(bytes: Uint8Array, label: 0 | 1, ctx: GateContext): Promise<GateDecision> {
  const t = ctx.thresholds;
  const reasons: RejectionReason[] = [];
  const detail: string[] = [];
  let measures: ImageMeasures;
  try {
    measures = await measureImage(bytes);
  } catch (error) {
    if (!(error instanceof UndecodableImageError)) throw error;
    return { accepted: false, reasons: ["undecodable"], detail: [error.message] };
  }
  const decision: GateDecision = { accepted: false, reasons, measures, detail };
  if (Math.min(measures.width, measures.height) < t.minSide) {
    reasons.push("too-small");
    detail.push(`${measures.width}×${measures.height} < ${t.minSide}`);
  }
  if (measures.laplacianVariance < t.minLaplacianVariance) {
    reasons.push("blurred");
    detail.push(`Laplacian variance ${measures.laplacianVariance.toFixed(1)} < ${t.minLaplacianVariance}`);
  }
  if (measures.darkClipped > t.maxClippedShare) {
    reasons.push("underexposed");
    detail.push(`${(measures.darkClipped * 100).toFixed(1)}% crushed blacks`);
  }
  if (measures.brightClipped > t.maxClippedShare) {
    reasons.push("overexposed");
    detail.push(`${(measures.brightClipped * 100).toFixed(1)}% blown highlights`);
  }
  let bestHash: { id: string; distance: number } | undefined;
  for (const p of ctx.reference.phashes) {
    const distance = hammingDistance(measures.phash, p.hash);
    if (!bestHash || distance < bestHash.distance) bestHash = { id: p.id, distance };
  }
  decision.nearest = {};
  if (bestHash) {
    decision.nearest.phash = bestHash;
    if (bestHash.distance <= t.maxPhashDistance) {
      reasons.push("near-duplicate-phash");
      detail.push(`pHash distance ${bestHash.distance} to ${bestHash.id}`);
    }
  }
  if (ctx.embedder) {
    const [vector] = await ctx.embedder.embed([bytes]);
    if (vector) {
      decision.embedding = vector;
      let best: { id: string; cosine: number } | undefined;
      for (const e of ctx.reference.embeddings) {
        const c = cosine(vector, e.vector);
        if (!best || c > best.cosine) best = { id: e.id, cosine: c };
      }
      if (best) {
        decision.nearest.embedding = best;
        if (best.cosine >= t.maxEmbeddingCosine) {
          reasons.push("near-duplicate-embedding");
          detail.push(`embedding cosine ${best.cosine.toFixed(4)} to ${best.id}`);
        }
      }
    }
  }
  // The teacher is the most expensive check (a Bedrock call): only for images that passed everything else.
  if (ctx.teacher && reasons.length === 0) {
    const verdict = await ctx.teacher.label(bytes, sniffMediaType(bytes) ?? "image/jpeg");
    if (verdict.kind === "abstain") {
      reasons.push("teacher-unsure");
      detail.push(`teacher abstained (${verdict.why}): ${verdict.detail}`);
    } else if (verdict.label !== label) {
      decision.teacher = { name: ctx.teacher.name, label: verdict.label, confidence: verdict.confidence };
      reasons.push("label-disagrees");
      detail.push(`teacher says ${verdict.label} (${verdict.confidence.toFixed(2)}), prompt says ${label}`);
    } else if (verdict.confidence < t.minTeacherConfidence) {
      decision.teacher = { name: ctx.teacher.name, label: verdict.label, confidence: verdict.confidence };
      reasons.push("teacher-unsure");
      detail.push(`teacher confidence ${verdict.confidence.toFixed(2)} < ${t.minTeacherConfidence}`);
    } else {
      decision.teacher = { name: ctx.teacher.name, label: verdict.label, confidence: verdict.confidence };
    }
  }
  decision.accepted = reasons.length === 0;
  return decision;
}
