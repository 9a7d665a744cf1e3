// The frozen evaluation set: the real images of a dataset version's test split, each rendered once in every
// validator format and stored by content. Challenger and champion are scored on exactly these bytes, so the gate
// compares like with like; the set is keyed by (dataset version, formats, seed) and reused by every later run.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { type LoadedDataset, recordPath, recordsOf } from "@roadwork/data";
import { ViewPool, viewWorkersFor } from "@roadwork/training";
import { z } from "zod";
import type { PipelineStore } from "./blob-store.ts";
import { renderValidatorFormat, VALIDATOR_FORMATS } from "./validator-formats.ts";

export const EvaluationItem = z.object({
  recordId: z.string(),
  /** sha256 of the source image. */
  source: z.string().regex(/^[0-9a-f]{64}$/),
  format: z.enum(VALIDATOR_FORMATS),
  label: z.union([z.literal(0), z.literal(1)]),
  /** Store key of the challenge bytes. */
  key: z.string(),
});
export type EvaluationItem = z.infer<typeof EvaluationItem>;

export const EvaluationSet = z.object({
  schemaVersion: z.literal(1),
  id: z.string().regex(/^[0-9a-f]{64}$/),
  datasetId: z.string(),
  formats: z.array(z.enum(VALIDATOR_FORMATS)),
  seed: z.string(),
  createdAt: z.string(),
  items: z.array(EvaluationItem).min(1),
});
export type EvaluationSet = z.infer<typeof EvaluationSet>;

export const evaluationSetKey = (id: string) => `evaluation/${id}/set.json`;

/** Real images only: the validators' real share is what the reward is computed on (synthetic never enters val/test). */
const isReal = (record: { source?: string }) => record.source === undefined || record.source !== "synthetic";

export async function freezeEvaluationSet(
  store: PipelineStore,
  dataset: LoadedDataset,
  options: {
    seed?: string;
    limit?: number;
    /** View worker threads for rendering (default: viewWorkersFor the item count). */
    workers?: number;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<{ set: EvaluationSet; reused: boolean; bytes?: Map<string, Uint8Array> }> {
  const seed = options.seed ?? "eval-1";
  const records = recordsOf(dataset.manifest, "test")
    .filter((r) => isReal(r as { source?: string }))
    .slice(0, options.limit ?? Number.POSITIVE_INFINITY);
  if (records.length === 0) throw new Error(`dataset ${dataset.manifest.id} has no real test images to evaluate on`);
  const formats = [...VALIDATOR_FORMATS];
  const id = createHash("sha256")
    .update(JSON.stringify({ dataset: dataset.manifest.id, formats, seed, records: records.map((r) => r.sha256) }))
    .digest("hex");
  const existing = await store.getJson<unknown>(evaluationSetKey(id));
  if (existing) return { set: EvaluationSet.parse(existing), reused: true };
  // Rendered concurrently: on the view workers when the set is large (the same formatChallenge with the same seed, so
  // the same bytes), else a few records at a time on this thread; items keep the record × format order.
  const items: EvaluationItem[] = new Array(records.length * formats.length);
  const bytesByKey = new Map<string, Uint8Array>();
  const pool = new ViewPool(options.workers ?? viewWorkersFor(items.length));
  const inFlight = Math.max(4, pool.size * 2);
  let done = 0;
  let next = 0;
  const renderRecord = async (ri: number) => {
    const record = records[ri]!;
    const source = pool.size > 0 ? undefined : await readFile(recordPath(dataset, record));
    await Promise.all(
      formats.map(async (format, fi) => {
        const viewSeed = `${seed}:${record.sha256}:${format}`;
        const bytes = source
          ? await renderValidatorFormat(source, format, viewSeed)
          : await pool.render(recordPath(dataset, record), format, viewSeed);
        const key = `evaluation/${id}/items/${createHash("sha256").update(bytes).digest("hex")}.jpg`;
        await store.put(key, bytes);
        bytesByKey.set(key, bytes);
        items[ri * formats.length + fi] = {
          recordId: record.id,
          source: record.sha256,
          format,
          label: record.label,
          key,
        };
      }),
    );
    options.onProgress?.(++done, records.length);
  };
  try {
    await Promise.all(
      Array.from({ length: Math.min(inFlight, records.length) }, async () => {
        while (next < records.length) await renderRecord(next++);
      }),
    );
  } finally {
    await pool.close();
  }
  const set: EvaluationSet = {
    schemaVersion: 1,
    id,
    datasetId: dataset.manifest.id,
    formats,
    seed,
    createdAt: new Date().toISOString(),
    items,
  };
  // Written last: a set.json on the store means every item is there.
  await store.putJson(evaluationSetKey(id), set);
  // The rendered bytes too, so the scoring that follows reads none of them back.
  return { set, reused: false, bytes: bytesByKey };
}
