// A labelling batch of hard cases from a dataset version's unlabelled images (docs/labelling.md): each candidate is
// scored and embedded by the serving bundle (mining-signals.ts), a seeded sample of labelled images is embedded as
// ground already covered (Sener & Savarese's s0), and @roadwork/data's mineHardCases picks the batch, which is
// saved beside the dataset (labelling/<id>.json) for `roadwork label`. `roadwork mine` and the daily capture export
// (functions/capture-export.ts) both run this.
import { createHash } from "node:crypto";
import {
  batchId,
  type DatasetStore,
  type DatasetVersion,
  type LabellingBatch,
  type MiningCandidate,
  mineHardCases,
  saveBatch,
} from "@roadwork/data";
import { openMiningSignals } from "./mining-signals.ts";

export interface MiningRunOptions {
  store: DatasetStore;
  version: DatasetVersion;
  /** The serving bundle, as a local directory. */
  bundleDir: string;
  budget: number;
  threshold?: number;
  diversityFloor?: number;
  /** Labelled images embedded as covered ground (0: none). */
  labelledSample?: number;
  /** Every unlabelled image, not only captured ones. */
  all?: boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
  /** An image that could not be read or measured (it is skipped). */
  onSkip?: (sha256: string, message: string) => void;
  now?: () => Date;
}

export interface MiningRun {
  /** Null when the version holds no candidate. */
  batch: LabellingBatch | null;
  pool: number;
  candidates: number;
  unreadable: number;
  covered: number;
  modelVersion: string | null;
  meanUncertainty: number;
}

export async function mineLabellingBatch(options: MiningRunOptions): Promise<MiningRun> {
  const { store, version, budget } = options;
  const threshold = options.threshold ?? 0.5;
  const diversityFloor = options.diversityFloor ?? 0.1;
  const progress = options.onProgress ?? (() => {});
  const skip = options.onSkip ?? (() => {});
  const pool = version.records.filter((r) => r.label === null && (options.all || r.source === "captured"));
  if (pool.length === 0) {
    return { batch: null, pool: 0, candidates: 0, unreadable: 0, covered: 0, modelVersion: null, meanUncertainty: 0 };
  }
  const signals = await openMiningSignals(options.bundleDir);
  const candidates: MiningCandidate[] = [];
  const covered: Float32Array[] = [];
  const labelled = sampleLabelled(version.records, options.labelledSample ?? 256, version.id);
  let unreadable = 0;
  try {
    for (const [i, r] of labelled.entries()) {
      try {
        covered.push(await signals.embed(await store.getImage(r.sha256)));
      } catch (error) {
        skip(r.sha256, `labelled: ${(error as Error).message}`);
      }
      progress("embed labelled", i + 1, labelled.length);
    }
    for (const [i, r] of pool.entries()) {
      try {
        candidates.push(await signals.measure(r.sha256, await store.getImage(r.sha256)));
      } catch (error) {
        unreadable++;
        skip(r.sha256, (error as Error).message);
      }
      progress("score+embed", i + 1, pool.length);
    }
  } finally {
    await signals.close();
  }
  const picked = mineHardCases(candidates, { budget, threshold, diversityFloor }, covered);
  const byRecord = new Map(pool.map((r) => [r.sha256, r]));
  const items = picked.map((p) => {
    const r = byRecord.get(p.sha256)!;
    return {
      sha256: p.sha256,
      mediaType: r.mediaType,
      score: p.score,
      margin: p.margin,
      disagreement: p.disagreement,
      uncertainty: p.uncertainty,
      rank: p.rank,
      validatorFormat: r.details.validatorFormat ?? null,
      teacher: null,
    };
  });
  const batch: LabellingBatch = {
    schemaVersion: 1,
    id: batchId(version.id, items),
    createdAt: (options.now?.() ?? new Date()).toISOString(),
    datasetVersion: version.id,
    modelVersion: signals.modelVersion,
    mining: {
      algorithm: "uncertainty (margin, member/view disagreement) x weighted k-center greedy",
      budget,
      threshold,
      diversityFloor,
      candidates: candidates.length,
      labelledCovered: covered.length,
      embedding: signals.embedding,
    },
    items,
  };
  await saveBatch(store, batch);
  return {
    batch,
    pool: pool.length,
    candidates: candidates.length,
    unreadable,
    covered: covered.length,
    modelVersion: signals.modelVersion,
    meanUncertainty: items.reduce((s, i) => s + i.uncertainty, 0) / Math.max(1, items.length),
  };
}

/** Up to `n` labelled records, real ones first, in an order fixed by the version id (same version → same sample). */
function sampleLabelled<R extends { sha256: string; label: unknown; source: string }>(
  records: readonly R[],
  n: number,
  versionId: string,
): R[] {
  if (n === 0) return [];
  const key = (r: R) =>
    `${r.source === "synthetic" ? 1 : 0}${createHash("sha256")
      .update(versionId + r.sha256)
      .digest("hex")}`;
  return records
    .filter((r) => r.label !== null)
    .map((r) => ({ r, k: key(r) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .slice(0, n)
    .map((x) => x.r);
}
