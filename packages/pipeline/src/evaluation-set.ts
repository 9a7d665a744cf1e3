// The frozen evaluation set: the real images of a dataset version's test split, each rendered once in every
// validator format. Challenger and champion are scored on exactly these bytes, so the gate compares like with like;
// the set is keyed by (dataset version, formats, seed) and reused by every later run. A rendered item is stored under
// its render's inputs (seed, source image, format), not under its set: the next dataset version's set holds the same
// test images plus the new ones, and renders only those (the older bytes, and the scores models gave them, carry over).
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

const RENDERS = "evaluation/renders/";
/** Where the challenge a validator of `format` makes of a source image (with this seed) is kept, whichever set holds it. */
export const renderKey = (seed: string, sourceSha256: string, format: string) =>
  `${RENDERS}${createHash("sha256").update(`${seed}:${sourceSha256}:${format}`).digest("hex")}.jpg`;

/** Real images only: the validators' real share is what the reward is computed on (synthetic never enters val/test). */
const isReal = (record: { source?: string }) => record.source === undefined || record.source !== "synthetic";

export async function freezeEvaluationSet(
  store: PipelineStore,
  dataset: LoadedDataset,
  options: {
    seed?: string;
    limit?: number;
    /** View worker threads for rendering (default: none below 200 items to render, else viewWorkersFor's count). */
    workers?: number;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<{
  set: EvaluationSet;
  reused: boolean;
  /** Items rendered by this call, and items found already rendered (by an earlier set with the same images). */
  renders: { rendered: number; reused: number };
  /** The bytes this call rendered, by item key (older items are read from the store when scored). */
  bytes?: Map<string, Uint8Array>;
}> {
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
  if (existing) {
    const set = EvaluationSet.parse(existing);
    return { set, reused: true, renders: { rendered: 0, reused: set.items.length } };
  }
  const stored = new Set(await store.list(RENDERS));
  let reusedRenders = 0;
  // Rendered concurrently: on the view workers when the set is large (the same formatChallenge with the same seed, so
  // the same bytes), else a few records at a time on this thread; items keep the record × format order.
  const items: EvaluationItem[] = new Array(records.length * formats.length);
  const bytesByKey = new Map<string, Uint8Array>();
  const toRender = records.flatMap((r) => formats.filter((f) => !stored.has(renderKey(seed, r.sha256, f)))).length;
  // Only what is new is rendered. An item costs tens of ms (native frames hundreds), a worker's start about as much
  // as a few items: workers from a couple of hundred items on (viewWorkersFor's 2,000 is for training's quicker views).
  const pool = new ViewPool(options.workers ?? (toRender >= 200 ? viewWorkersFor(Number.POSITIVE_INFINITY) : 0));
  const inFlight = Math.max(4, pool.size * 2);
  let done = 0;
  let next = 0;
  const renderRecord = async (ri: number) => {
    const record = records[ri]!;
    const keys = formats.map((format) => renderKey(seed, record.sha256, format));
    const fresh = keys.some((k) => !stored.has(k));
    const source = pool.size > 0 || !fresh ? undefined : await readFile(recordPath(dataset, record));
    await Promise.all(
      formats.map(async (format, fi) => {
        const key = keys[fi]!;
        if (stored.has(key)) reusedRenders++;
        else {
          const viewSeed = `${seed}:${record.sha256}:${format}`;
          const bytes = source
            ? await renderValidatorFormat(source, format, viewSeed)
            : await pool.render(recordPath(dataset, record), format, viewSeed);
          await store.put(key, bytes);
          bytesByKey.set(key, bytes);
        }
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
  return { set, reused: false, renders: { rendered: bytesByKey.size, reused: reusedRenders }, bytes: bytesByKey };
}
