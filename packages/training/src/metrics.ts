// Classification metrics for a binary roadwork classifier, with the conventions the subnet's validators use:
// numpy's round-half-to-even and sklearn's Matthews correlation (0 when undefined).

/** numpy.round / Python round: halves go to the even neighbour (0.5 → 0, 1.5 → 2, 2.5 → 2). */
export function bankersRound(x: number): number {
  const r = Math.round(x);
  // Math.round rounds halves up; correct the exact-half cases that should go down to the even integer.
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export function confusion(predicted: readonly number[], labels: readonly number[]): Confusion {
  if (predicted.length !== labels.length) throw new RangeError("predictions and labels differ in length");
  const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < labels.length; i++) {
    const p = predicted[i] === 1;
    const l = labels[i] === 1;
    if (p && l) c.tp++;
    else if (p) c.fp++;
    else if (l) c.fn++;
    else c.tn++;
  }
  return c;
}

export function accuracy(predicted: readonly number[], labels: readonly number[]): number {
  if (labels.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) ok++;
  return ok / labels.length;
}

/**
 * Matthews correlation coefficient for any number of classes, as sklearn computes it
 * ((c·s − Σ pₖtₖ) / √((s² − Σ pₖ²)(s² − Σ tₖ²))), 0 when the denominator is 0.
 */
export function matthews(predicted: readonly number[], labels: readonly number[]): number {
  if (predicted.length !== labels.length) throw new RangeError("predictions and labels differ in length");
  const s = labels.length;
  if (s === 0) return 0;
  const pCount = new Map<number, number>();
  const tCount = new Map<number, number>();
  let correct = 0;
  for (let i = 0; i < s; i++) {
    const p = predicted[i]!;
    const t = labels[i]!;
    pCount.set(p, (pCount.get(p) ?? 0) + 1);
    tCount.set(t, (tCount.get(t) ?? 0) + 1);
    if (p === t) correct++;
  }
  let pt = 0;
  for (const [k, tk] of tCount) pt += (pCount.get(k) ?? 0) * tk;
  let pp = 0;
  for (const v of pCount.values()) pp += v * v;
  let tt = 0;
  for (const v of tCount.values()) tt += v * v;
  const denom = Math.sqrt((s * s - pp) * (s * s - tt));
  return denom === 0 ? 0 : (correct * s - pt) / denom;
}

export function precision(c: Confusion): number {
  return c.tp + c.fp === 0 ? 0 : c.tp / (c.tp + c.fp);
}

export function recall(c: Confusion): number {
  return c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn);
}

export function f1(c: Confusion): number {
  const p = precision(c);
  const r = recall(c);
  return p + r === 0 ? 0 : (2 * p * r) / (p + r);
}

/** ROC-AUC by the rank-sum (Mann–Whitney) formula; tied scores share their mean rank. NaN with one class only. */
export function rocAuc(scores: readonly number[], labels: readonly number[]): number {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const ranks = new Float64Array(scores.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const mean = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]!] = mean;
    i = j + 1;
  }
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 1) {
      pos++;
      rankSum += ranks[i]!;
    }
  }
  const neg = labels.length - pos;
  if (pos === 0 || neg === 0) return Number.NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface RocPoint {
  threshold: number;
  fpr: number;
  tpr: number;
}

/** ROC curve points (score > threshold counts as positive), from (0,0) to (1,1). */
export function rocCurve(scores: readonly number[], labels: readonly number[]): RocPoint[] {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const P = labels.filter((l) => l === 1).length;
  const N = labels.length - P;
  const points: RocPoint[] = [{ threshold: Number.POSITIVE_INFINITY, fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < order.length; i++) {
    const k = order[i]!;
    if (labels[k] === 1) tp++;
    else fp++;
    const next = order[i + 1];
    if (next === undefined || scores[next] !== scores[k]) {
      points.push({ threshold: scores[k]!, fpr: N === 0 ? 0 : fp / N, tpr: P === 0 ? 0 : tp / P });
    }
  }
  return points;
}

export interface BinaryMetrics {
  count: number;
  positives: number;
  accuracy: number;
  mcc: number;
  precision: number;
  recall: number;
  f1: number;
  /** NaN when only one class is present. */
  rocAuc: number;
  confusion: Confusion;
}

/** All metrics at a decision threshold: score > threshold is "roadwork". */
export function binaryMetrics(scores: readonly number[], labels: readonly number[], threshold = 0.5): BinaryMetrics {
  const predicted = scores.map((s) => (s > threshold ? 1 : 0));
  const c = confusion(predicted, labels);
  return {
    count: labels.length,
    positives: c.tp + c.fn,
    accuracy: accuracy(predicted, labels),
    mcc: matthews(predicted, labels),
    precision: precision(c),
    recall: recall(c),
    f1: f1(c),
    rocAuc: rocAuc(scores, labels),
    confusion: c,
  };
}

/** Metrics per category (e.g. "hard-negative/orange-object"), to see which kinds of scene the model gets wrong. */
export function metricsByCategory(
  scores: readonly number[],
  labels: readonly number[],
  categories: readonly string[],
  threshold = 0.5,
): Record<string, BinaryMetrics> {
  const groups = new Map<string, number[]>();
  categories.forEach((c, i) => {
    const list = groups.get(c) ?? [];
    list.push(i);
    groups.set(c, list);
  });
  const out: Record<string, BinaryMetrics> = {};
  for (const [c, idx] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    out[c] = binaryMetrics(
      idx.map((i) => scores[i]!),
      idx.map((i) => labels[i]!),
      threshold,
    );
  }
  return out;
}

/**
 * The decision threshold that maximizes MCC (ties broken by accuracy, then by closeness to 0.5). Candidates are
 * midpoints between consecutive distinct scores, so no training score sits exactly on the threshold.
 */
export function searchThreshold(
  scores: readonly number[],
  labels: readonly number[],
): { threshold: number; mcc: number; accuracy: number } {
  const sorted = [...new Set(scores)].sort((a, b) => a - b);
  const candidates = [0.5];
  for (let i = 0; i + 1 < sorted.length; i++) candidates.push((sorted[i]! + sorted[i + 1]!) / 2);
  let best = { threshold: 0.5, mcc: Number.NEGATIVE_INFINITY, accuracy: 0 };
  for (const t of candidates) {
    if (!(t > 0 && t < 1)) continue;
    const predicted = scores.map((s) => (s > t ? 1 : 0));
    const m = matthews(predicted, labels);
    const a = accuracy(predicted, labels);
    const better =
      m > best.mcc + 1e-12 ||
      (Math.abs(m - best.mcc) <= 1e-12 &&
        (a > best.accuracy + 1e-12 ||
          (Math.abs(a - best.accuracy) <= 1e-12 && Math.abs(t - 0.5) < Math.abs(best.threshold - 0.5))));
    if (better) best = { threshold: t, mcc: m, accuracy: a };
  }
  return best;
}

export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  meanScore: number;
  positiveRate: number;
}

/** Calibration (reliability) diagram data: equal-width score bins with observed positive rates. */
export function reliability(scores: readonly number[], labels: readonly number[], bins = 10): ReliabilityBin[] {
  const out: ReliabilityBin[] = Array.from({ length: bins }, (_, i) => ({
    lo: i / bins,
    hi: (i + 1) / bins,
    count: 0,
    meanScore: 0,
    positiveRate: 0,
  }));
  scores.forEach((s, i) => {
    const b = out[Math.min(bins - 1, Math.max(0, Math.floor(s * bins)))]!;
    b.count++;
    b.meanScore += s;
    b.positiveRate += labels[i] === 1 ? 1 : 0;
  });
  for (const b of out) {
    if (b.count > 0) {
      b.meanScore /= b.count;
      b.positiveRate /= b.count;
    }
  }
  return out;
}
