// Leak-free groups: images that are copies of one another in all but bytes must never sit on both sides of a split.
// Union-find over three kinds of edge: an image-to-image result and its parent; two images whose perceptual hashes
// are within a few bits; two images whose embeddings are nearly parallel. Groups already formed in the parent
// version stay together, and keep their id, so a version's groups grow but never split.
import type { GroupingPolicy } from "./version.ts";

export interface GroupingInput {
  sha256: string;
  phash?: string | undefined;
  /** i2i parent; joins the parent's group even when the parent is not (yet) in the dataset. */
  parentSha256?: string | undefined;
  /** Group in the parent version; undefined for a new image. */
  priorGroup?: string | undefined;
}

class UnionFind {
  readonly #parent = new Map<string, string>();
  find(x: string): string {
    let root = x;
    for (let p = this.#parent.get(root); p !== undefined && p !== root; p = this.#parent.get(root)) root = p;
    if (!this.#parent.has(x)) this.#parent.set(x, x);
    // Path compression.
    for (let y = x; y !== root; ) {
      const next = this.#parent.get(y)!;
      this.#parent.set(y, root);
      y = next;
    }
    return root;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.#parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
  }
}

const popcount32 = (x: number): number => {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
};

/** Hamming distance between two 16-hex-digit perceptual hashes. */
export function phashDistance(a: string, b: string): number {
  return (
    popcount32((Number.parseInt(a.slice(0, 8), 16) ^ Number.parseInt(b.slice(0, 8), 16)) >>> 0) +
    popcount32((Number.parseInt(a.slice(8), 16) ^ Number.parseInt(b.slice(8), 16)) >>> 0)
  );
}

export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`embeddings differ in length (${a.length} vs ${b.length})`);
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

/**
 * Returns sha256 → group id (16 hex digits). A group keeps its prior id; a new group is named after the smallest
 * sha256 among its members (or its i2i parent's). Only pairs involving at least one new image are compared: pairs
 * of old images were compared when they were added.
 */
export function assignGroups(
  inputs: readonly GroupingInput[],
  policy: GroupingPolicy,
  embeddings?: ReadonlyMap<string, ArrayLike<number>>,
): Map<string, string> {
  const uf = new UnionFind();
  const priorMembers = new Map<string, string>();
  for (const r of inputs) {
    uf.find(r.sha256);
    if (r.priorGroup !== undefined) {
      const first = priorMembers.get(r.priorGroup);
      if (first === undefined) priorMembers.set(r.priorGroup, r.sha256);
      else uf.union(first, r.sha256);
    }
    if (r.parentSha256) uf.union(r.sha256, r.parentSha256);
  }

  // Perceptual hashes: pigeonhole banding. With d allowed differing bits, two hashes within distance d agree exactly
  // on at least one of d+1 disjoint bands, so only images sharing a band value are compared.
  const hashed = inputs.filter((r) => r.phash !== undefined);
  const d = policy.phashMaxDistance;
  const bands = Math.min(d + 1, 64);
  const bits = (h: string) => BigInt(`0x${h}`).toString(2).padStart(64, "0");
  const bitsOf = new Map(hashed.map((r) => [r.sha256, bits(r.phash!)]));
  for (let b = 0; b < bands; b++) {
    const lo = Math.floor((b * 64) / bands);
    const hi = Math.floor(((b + 1) * 64) / bands);
    const buckets = new Map<string, GroupingInput[]>();
    for (const r of hashed) {
      const key = bitsOf.get(r.sha256)!.slice(lo, hi);
      const list = buckets.get(key);
      if (list) list.push(r);
      else buckets.set(key, [r]);
    }
    for (const list of buckets.values()) {
      for (let i = 0; i < list.length; i++) {
        for (let j = i + 1; j < list.length; j++) {
          const x = list[i]!;
          const y = list[j]!;
          if (x.priorGroup !== undefined && y.priorGroup !== undefined) continue;
          if (phashDistance(x.phash!, y.phash!) <= d) uf.union(x.sha256, y.sha256);
        }
      }
    }
  }

  if (embeddings && embeddings.size > 0) {
    // Unit vectors once, then dot products; only pairs with a new image are compared.
    const unit = new Map<string, Float64Array>();
    let dim: number | undefined;
    for (const r of inputs) {
      const e = embeddings.get(r.sha256);
      if (!e) continue;
      if (dim !== undefined && e.length !== dim) throw new Error(`embeddings differ in length (${e.length} vs ${dim})`);
      dim = e.length;
      let n = 0;
      for (let i = 0; i < e.length; i++) n += e[i]! * e[i]!;
      const u = new Float64Array(e.length);
      if (n > 0) for (let i = 0; i < e.length; i++) u[i] = e[i]! / Math.sqrt(n);
      unit.set(r.sha256, u);
    }
    const all = inputs.filter((r) => unit.has(r.sha256));
    const fresh = all.filter((r) => r.priorGroup === undefined);
    for (const x of fresh) {
      const ux = unit.get(x.sha256)!;
      for (const y of all) {
        if (y === x || (y.priorGroup === undefined && y.sha256 < x.sha256)) continue;
        const uy = unit.get(y.sha256)!;
        let dot = 0;
        for (let i = 0; i < ux.length; i++) dot += ux[i]! * uy[i]!;
        if (dot >= policy.cosineMin) uf.union(x.sha256, y.sha256);
      }
    }
  }

  // Name each component: the smallest prior group id among its members, else the smallest member (or parent) sha.
  const priorName = new Map<string, string>();
  const freshName = new Map<string, string>();
  const keep = (m: Map<string, string>, root: string, name: string) => {
    const cur = m.get(root);
    if (cur === undefined || name < cur) m.set(root, name);
  };
  for (const r of inputs) {
    const root = uf.find(r.sha256);
    if (r.priorGroup !== undefined) keep(priorName, root, r.priorGroup);
    keep(freshName, root, r.sha256.slice(0, 16));
    if (r.parentSha256) keep(freshName, root, r.parentSha256.slice(0, 16));
  }
  const out = new Map<string, string>();
  for (const r of inputs) {
    const root = uf.find(r.sha256);
    out.set(r.sha256, priorName.get(root) ?? freshName.get(root)!);
  }
  return out;
}
