// How far a batch of synthetic images sits from the real images, in the miner's own backbone embedding space:
// Fréchet distance (FID's formula, Heusel et al. 2017) on a fixed random projection, and KID (Bińkowski et al. 2018,
// unbiased MMD² with the cubic polynomial kernel), which is unbiased for the small batches a weekly run produces.
import { Prng } from "../prng.ts";

/** Turns encoded images into embedding rows (the miner's backbone, injected by the composition root). */
export interface Embedder {
  readonly name: string;
  embed(images: Uint8Array[]): Promise<Float32Array[]>;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** Highest cosine similarity of `row` to any of `rows` (and which). */
export function nearest(row: Float32Array, rows: readonly Float32Array[]): { index: number; cosine: number } {
  let best = { index: -1, cosine: -Infinity };
  rows.forEach((r, index) => {
    const c = cosine(row, r);
    if (c > best.cosine) best = { index, cosine: c };
  });
  return best;
}

/** KID: unbiased MMD² with k(x, y) = (x·y / d + 1)³. Needs at least 2 rows on each side. */
export function kernelInceptionDistance(x: readonly Float32Array[], y: readonly Float32Array[]): number {
  if (x.length < 2 || y.length < 2) return Number.NaN;
  const d = x[0]!.length;
  const k = (a: Float32Array, b: Float32Array): number => {
    let dot = 0;
    for (let i = 0; i < d; i++) dot += a[i]! * b[i]!;
    return (dot / d + 1) ** 3;
  };
  const within = (s: readonly Float32Array[]): number => {
    let sum = 0;
    for (let i = 0; i < s.length; i++) for (let j = 0; j < s.length; j++) if (i !== j) sum += k(s[i]!, s[j]!);
    return sum / (s.length * (s.length - 1));
  };
  let cross = 0;
  for (const a of x) for (const b of y) cross += k(a, b);
  return within(x) + within(y) - (2 * cross) / (x.length * y.length);
}

/**
 * Fréchet distance ‖μx − μy‖² + Tr(Σx + Σy − 2(Σx^½ Σy Σx^½)^½) after projecting both sets onto `dims` fixed random
 * Gaussian directions (Johnson–Lindenstrauss), so a 2k-dimensional backbone costs a dims×dims eigenproblem. Figures
 * are comparable between batches that use the same backbone and `dims`, not with published FIDs.
 */
export function frechetDistance(x: readonly Float32Array[], y: readonly Float32Array[], dims = 16): number {
  if (x.length < 2 || y.length < 2) return Number.NaN;
  const d = x[0]!.length;
  const k = Math.min(dims, d);
  const rng = new Prng(`frechet-projection:${d}:${k}`);
  const projection = Array.from({ length: k }, () =>
    Float64Array.from({ length: d }, () => rng.gaussian() / Math.sqrt(k)),
  );
  const project = (rows: readonly Float32Array[]) =>
    rows.map((r) =>
      projection.map((p) => {
        let s = 0;
        for (let i = 0; i < d; i++) s += p[i]! * r[i]!;
        return s;
      }),
    );
  const [mx, cx] = meanCov(project(x));
  const [my, cy] = meanCov(project(y));
  let meanTerm = 0;
  for (let i = 0; i < k; i++) meanTerm += (mx[i]! - my[i]!) ** 2;
  const sx = sqrtPsd(cx);
  const inner = sqrtPsd(matMul(matMul(sx, cy), sx));
  let trace = 0;
  for (let i = 0; i < k; i++) trace += cx[i]![i]! + cy[i]![i]! - 2 * inner[i]![i]!;
  return meanTerm + Math.max(0, trace);
}

type Mat = number[][];

function meanCov(rows: number[][]): [number[], Mat] {
  const n = rows.length;
  const k = rows[0]!.length;
  const mean = Array.from({ length: k }, (_, j) => rows.reduce((s, r) => s + r[j]!, 0) / n);
  const cov = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const r of rows) {
    for (let i = 0; i < k; i++) {
      const di = r[i]! - mean[i]!;
      for (let j = i; j < k; j++) cov[i]![j]! += (di * (r[j]! - mean[j]!)) / (n - 1);
    }
  }
  for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) cov[i]![j] = cov[j]![i]!;
  return [mean, cov];
}

function matMul(a: Mat, b: Mat): Mat {
  const n = a.length;
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let t = 0; t < n; t++) s += a[i]![t]! * b[t]![j]!;
      return s;
    }),
  );
}

/** Square root of a symmetric positive semi-definite matrix through its eigendecomposition (cyclic Jacobi). */
export function sqrtPsd(m: Mat): Mat {
  const n = m.length;
  const a = m.map((r) => [...r]);
  const v: Mat = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p]![q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p]![q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < n; r++) {
          const arp = a[r]![p]!;
          const arq = a[r]![q]!;
          a[r]![p] = c * arp - s * arq;
          a[r]![q] = s * arp + c * arq;
        }
        for (let r = 0; r < n; r++) {
          const apr = a[p]![r]!;
          const aqr = a[q]![r]!;
          a[p]![r] = c * apr - s * aqr;
          a[q]![r] = s * apr + c * aqr;
        }
        for (let r = 0; r < n; r++) {
          const vrp = v[r]![p]!;
          const vrq = v[r]![q]!;
          v[r]![p] = c * vrp - s * vrq;
          v[r]![q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const roots = a.map((r, i) => Math.sqrt(Math.max(0, r[i]!)));
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let t = 0; t < n; t++) s += v[i]![t]! * roots[t]! * v[j]![t]!;
      return s;
    }),
  );
}

/**
 * A backbone-free embedder: the image shrunk to 16×9 RGB, mean-centred. Only a fallback (and a test fixture) for when
 * no miner backbone is configured; the batch report names the embedder its figures come from.
 */
export class ThumbnailEmbedder implements Embedder {
  readonly name = "thumbnail-16x9";
  async embed(images: Uint8Array[]): Promise<Float32Array[]> {
    const { default: sharp } = await import("sharp");
    return Promise.all(
      images.map(async (bytes) => {
        const raw = await sharp(bytes).resize(16, 9, { fit: "fill" }).removeAlpha().raw().toBuffer();
        const v = Float32Array.from(raw, (x) => x / 255);
        const mean = v.reduce((s, x) => s + x, 0) / v.length;
        return v.map((x) => x - mean);
      }),
    );
  }
}
