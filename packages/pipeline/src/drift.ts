// Drift: is the model seeing a different world from the one it was judged on? The reference is the promoted model's
// own scores on its frozen evaluation set (real test images in every validator format, `runs/<runId>/evaluation.json`);
// the live side is the axon's prediction records of the last day for the same model version. Both are served,
// calibrated scores (the decision flips at 0.5), so they compare directly.
//
// Statistics (docs/pipeline.md "Drift"):
// - population stability index over B equal-width score bins, PSI = Σ (l_i − r_i) · ln(l_i / r_i), each share floored
//   at 1e-4 so an empty bin stays finite. Rule of thumb from credit scoring: < 0.1 stable, 0.1–0.25 moderate,
//   > 0.25 major; the default limit is 0.2.
// - Kolmogorov–Smirnov distance on the same bins, max |CDF_l − CDF_r| (reported, and a second limit, 0.2);
// - near-threshold share: answers with |score − 0.5| ≤ band (0.1). More live answers near the threshold than on the
//   evaluation set means more coin flips; a rise of 0.10 (absolute) is drift on its own.
// Fewer than `minLive` live answers (200) is "insufficient", never drift: a quiet day proves nothing.
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import type { PipelineStore } from "./blob-store.ts";
import { EvaluationRecord } from "./evaluation-record.ts";
import type { PromotionPointer } from "./model-pointer.ts";

export const DriftPolicy = z.object({
  bins: z.number().int().min(2).max(100).default(10),
  psiLimit: z.number().positive().default(0.2),
  ksLimit: z.number().positive().max(1).default(0.2),
  nearBand: z.number().positive().max(0.5).default(0.1),
  nearShareDeltaLimit: z.number().positive().max(1).default(0.1),
  minLive: z.number().int().min(1).default(200),
});
export type DriftPolicy = z.infer<typeof DriftPolicy>;

const SHARE_FLOOR = 1e-4;
const DECISION = 0.5;

/** Shares of scores in `bins` equal-width bins over [0, 1] (1.0 falls in the last bin). */
export function scoreHistogram(scores: readonly number[], bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (const s of scores) counts[Math.min(bins - 1, Math.max(0, Math.floor(s * bins)))]! += 1;
  return counts.map((c) => (scores.length ? c / scores.length : 0));
}

export function populationStabilityIndex(reference: readonly number[], live: readonly number[]): number {
  let psi = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = Math.max(SHARE_FLOOR, reference[i] ?? 0);
    const l = Math.max(SHARE_FLOOR, live[i] ?? 0);
    psi += (l - r) * Math.log(l / r);
  }
  return psi;
}

export function ksDistance(reference: readonly number[], live: readonly number[]): number {
  let r = 0;
  let l = 0;
  let d = 0;
  for (let i = 0; i < reference.length; i++) {
    r += reference[i] ?? 0;
    l += live[i] ?? 0;
    d = Math.max(d, Math.abs(l - r));
  }
  return d;
}

export function nearThresholdShare(scores: readonly number[], band: number): number {
  if (scores.length === 0) return 0;
  return scores.filter((s) => Math.abs(s - DECISION) <= band).length / scores.length;
}

export interface ScoreSummary {
  count: number;
  mean: number;
  histogram: number[];
  nearShare: number;
}

export interface DriftReport {
  status: "drift" | "stable" | "insufficient";
  reasons: string[];
  psi: number;
  ks: number;
  nearShareDelta: number;
  reference: ScoreSummary;
  live: ScoreSummary;
  policy: DriftPolicy;
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

function summarize(scores: readonly number[], policy: DriftPolicy): ScoreSummary {
  return {
    count: scores.length,
    mean: round(scores.reduce((a, b) => a + b, 0) / Math.max(1, scores.length)),
    histogram: scoreHistogram(scores, policy.bins).map(round),
    nearShare: round(nearThresholdShare(scores, policy.nearBand)),
  };
}

/** Pure: the live scores against the reference under the policy. */
export function measureDrift(
  reference: readonly number[],
  live: readonly number[],
  policyInput: Partial<DriftPolicy> = {},
): DriftReport {
  const policy = DriftPolicy.parse(policyInput);
  if (reference.length === 0) throw new Error("drift: the reference has no scores");
  const ref = scoreHistogram(reference, policy.bins);
  const now = scoreHistogram(live, policy.bins);
  const psi = live.length ? populationStabilityIndex(ref, now) : 0;
  const ks = live.length ? ksDistance(ref, now) : 0;
  const nearShareDelta = nearThresholdShare(live, policy.nearBand) - nearThresholdShare(reference, policy.nearBand);
  const reasons: string[] = [];
  if (live.length < policy.minLive) {
    reasons.push(`${live.length} live answers, fewer than the ${policy.minLive} needed to judge`);
  } else {
    if (psi >= policy.psiLimit) reasons.push(`PSI ${psi.toFixed(3)} ≥ ${policy.psiLimit}`);
    if (ks >= policy.ksLimit) reasons.push(`KS ${ks.toFixed(3)} ≥ ${policy.ksLimit}`);
    if (nearShareDelta >= policy.nearShareDeltaLimit) {
      reasons.push(
        `near-threshold share +${(nearShareDelta * 100).toFixed(1)} points (≥ ${policy.nearShareDeltaLimit * 100})`,
      );
    }
  }
  return {
    status: live.length < policy.minLive ? "insufficient" : reasons.length ? "drift" : "stable",
    reasons,
    psi: round(psi),
    ks: round(ks),
    nearShareDelta: round(nearShareDelta),
    reference: summarize(reference, policy),
    live: summarize(live, policy),
    policy,
  };
}

/** The promoted model's scores on its frozen evaluation set; undefined for a pointer no pipeline run wrote. */
export async function referenceScores(
  store: PipelineStore,
  pointer: PromotionPointer,
): Promise<{ scores: number[]; setId: string } | undefined> {
  if (!pointer.runId) return undefined;
  const raw = await store.getJson<unknown>(`runs/${pointer.runId}/evaluation.json`);
  if (raw === undefined) return undefined;
  const record = EvaluationRecord.parse(raw);
  return { scores: record.challenger.scores, setId: record.setId };
}

/** The fields of the axon's prediction record (containers/axon/prediction-log.ts) drift reads. */
const LiveRecord = z.object({
  receivedAt: z.number(),
  score: z.number().min(0).max(1),
  modelVersion: z.string(),
  cached: z.boolean().default(false),
});

export interface LivePredictions {
  scores: number[];
  /** Records of the window for another model version, repeated (cached) answers, and unreadable lines. */
  otherVersion: number;
  cached: number;
  unreadable: number;
  objects: number;
}

/**
 * The live scores of `modelVersion` received in [from, to), read from the JSON Lines objects the axon writes under
 * `<prefix>YYYY/MM/DD/` (one listing per UTC day of the window). Cached answers repeat an earlier one and are left out.
 */
export async function readLivePredictions(
  s3: S3Client,
  location: { bucket: string; prefix: string },
  window: { from: Date; to: Date; modelVersion: string },
): Promise<LivePredictions> {
  const out: LivePredictions = { scores: [], otherVersion: 0, cached: 0, unreadable: 0, objects: 0 };
  const days = new Set<string>();
  for (let t = Date.UTC(...utcDay(window.from)); t < window.to.getTime(); t += 86_400_000) {
    days.add(new Date(t).toISOString().slice(0, 10).replaceAll("-", "/"));
  }
  const from = window.from.getTime();
  const to = window.to.getTime();
  for (const day of days) {
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: location.bucket,
          Prefix: `${location.prefix}${day}/`,
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        out.objects++;
        const res = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: o.Key }));
        const text = (await res.Body?.transformToString("utf8")) ?? "";
        for (const line of text.split("\n")) {
          if (!line.trim()) continue;
          let parsed: z.infer<typeof LiveRecord>;
          try {
            parsed = LiveRecord.parse(JSON.parse(line));
          } catch {
            out.unreadable++;
            continue;
          }
          if (parsed.receivedAt < from || parsed.receivedAt >= to) continue;
          if (parsed.modelVersion !== window.modelVersion) out.otherVersion++;
          else if (parsed.cached) out.cached++;
          else out.scores.push(parsed.score);
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
  return out;
}

function utcDay(d: Date): [number, number, number] {
  return [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()];
}

/** The two histograms side by side (reference grey, live orange), the decision band shaded, as an SVG for the report. */
export function renderDriftSvg(report: DriftReport): string {
  const w = 480;
  const h = 220;
  const pad = 30;
  const bins = report.policy.bins;
  const max = Math.max(...report.reference.histogram, ...report.live.histogram, 0.01);
  const bw = (w - 2 * pad) / bins;
  const y = (share: number) => h - pad - (share / max) * (h - 2 * pad);
  const bars = (hist: number[], dx: number, fill: string) =>
    hist
      .map(
        (s, i) =>
          `<rect x="${(pad + i * bw + dx).toFixed(1)}" y="${y(s).toFixed(1)}" width="${(bw / 2 - 1).toFixed(1)}" height="${(h - pad - y(s)).toFixed(1)}" fill="${fill}"/>`,
      )
      .join("");
  const band = report.policy.nearBand;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<rect x="${pad + (0.5 - band) * (w - 2 * pad)}" y="${pad}" width="${2 * band * (w - 2 * pad)}" height="${h - 2 * pad}" fill="#f3e8ff"/>`,
    bars(report.reference.histogram, 0, "#9ca3af"),
    bars(report.live.histogram, bw / 2, "#f97316"),
    `<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#333"/>`,
    `<text x="${pad}" y="${h - 10}">0</text><text x="${w / 2 - 8}" y="${h - 10}">0.5</text><text x="${w - pad - 8}" y="${h - 10}">1</text>`,
    `<text x="${pad}" y="16">${report.status.toUpperCase()}: PSI ${report.psi.toFixed(3)}, KS ${report.ks.toFixed(3)}, near-threshold ${(report.reference.nearShare * 100).toFixed(1)}% → ${(report.live.nearShare * 100).toFixed(1)}% (grey: evaluation set n=${report.reference.count}, orange: live n=${report.live.count})</text>`,
    "</svg>",
  ].join("");
}
