// A labelling batch: the hard cases `roadwork mine` picked from one dataset version, what the teacher said about each,
// and (after review) nothing more: labels themselves go into dataset versions. Stored beside the dataset as
// labelling/<batch id>.json in the same store (local directory or S3).
import { createHash } from "node:crypto";
import { z } from "zod";
import type { DatasetStore } from "../store/dataset-store.ts";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const TEACHER_OUTCOMES = ["labelled", "disagreed", "abstained"] as const;
export type TeacherOutcome = (typeof TEACHER_OUTCOMES)[number];

export const TeacherNoteSchema = z
  .object({
    teacher: z.string(),
    outcome: z.enum(TEACHER_OUTCOMES),
    /** The teacher's label when it gave one (also when it was not sure enough to be written). */
    label: z.union([z.literal(0), z.literal(1)]).nullable(),
    confidence: z.number().min(0).max(1).nullable(),
    /** The teacher's reason, or why it gave no answer (refused, malformed, throttled, ...). */
    reason: z.string(),
  })
  .strict();
export type TeacherNote = z.infer<typeof TeacherNoteSchema>;

export const BatchItemSchema = z
  .object({
    sha256: Sha256,
    mediaType: z.string(),
    score: z.number(),
    margin: z.number(),
    disagreement: z.number(),
    uncertainty: z.number(),
    rank: z.number().int().min(0),
    validatorFormat: z.string().nullable(),
    teacher: TeacherNoteSchema.nullable(),
  })
  .strict();
export type BatchItem = z.infer<typeof BatchItemSchema>;

export const LabellingBatchSchema = z
  .object({
    schemaVersion: z.literal(1),
    id: z.string().regex(/^[0-9a-f]{16}$/),
    createdAt: z.string(),
    /** The dataset version the cases were mined from. */
    datasetVersion: Sha256,
    modelVersion: z.string().nullable(),
    /** How they were picked (mining options and where scores/embeddings came from). */
    mining: z.record(z.string(), z.unknown()),
    items: z.array(BatchItemSchema),
  })
  .strict();
export type LabellingBatch = z.infer<typeof LabellingBatchSchema>;

export const batchKey = (id: string): string => `labelling/${id}.json`;

/** The id: a short hash of the version mined and the cases picked, so mining twice the same way gives the same id. */
export function batchId(datasetVersion: string, items: readonly Pick<BatchItem, "sha256">[]): string {
  return createHash("sha256")
    .update(`${datasetVersion}\n${items.map((i) => i.sha256).join("\n")}`)
    .digest("hex")
    .slice(0, 16);
}

export async function saveBatch(store: DatasetStore, batch: LabellingBatch): Promise<void> {
  const checked = LabellingBatchSchema.parse(batch);
  await store.blobs.put(
    batchKey(checked.id),
    new TextEncoder().encode(`${JSON.stringify(checked, null, 1)}\n`),
    "application/json",
  );
}

export async function loadBatch(store: DatasetStore, id: string): Promise<LabellingBatch> {
  const bytes = await store.blobs.get(batchKey(id));
  if (!bytes) throw new Error(`labelling batch ${id} is not in ${store.location}; run 'roadwork mine' first`);
  const parsed = LabellingBatchSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
  if (!parsed.success)
    throw new Error(`${store.where(batchKey(id))} is not a labelling batch: ${parsed.error.message}`);
  return parsed.data;
}

/** The most recent batch in the store (by createdAt), or undefined. */
export async function latestBatch(store: DatasetStore): Promise<LabellingBatch | undefined> {
  const keys = (await store.blobs.list("labelling/")).filter((k) => /^labelling\/[0-9a-f]{16}\.json$/.test(k));
  let newest: LabellingBatch | undefined;
  for (const key of keys) {
    const batch = await loadBatch(store, key.slice("labelling/".length, -".json".length));
    if (!newest || batch.createdAt > newest.createdAt) newest = batch;
  }
  return newest;
}
