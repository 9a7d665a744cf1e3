// What a model answered on rendered evaluation items, kept per model so that no bundle scores the same bytes twice:
// the champion was scored on most of the frozen set when it was the challenger, and a retrain's set only adds the new
// test images. Keyed by the bundle's manifest (its files' sha256, calibration and version: the model exactly), and
// by the item's render key (the bytes exactly).
import { createHash } from "node:crypto";
import type { Manifest } from "@roadwork/inference";
import { z } from "zod";
import type { PipelineStore } from "./blob-store.ts";

const StoredScores = z.object({
  schemaVersion: z.literal(1),
  version: z.string(),
  scores: z.record(z.string(), z.number()),
});

/** The identity of a bundle: its manifest lists every file's sha256. */
export const modelIdentity = (manifest: Manifest): string =>
  createHash("sha256").update(JSON.stringify(manifest)).digest("hex");

const scoresKey = (modelId: string) => `evaluation/scores/${modelId}.json`;

/** A model's known scores, by item key (empty when it has never been evaluated here). */
export async function readModelScores(store: PipelineStore, modelId: string): Promise<Map<string, number>> {
  const raw = await store.getJson<unknown>(scoresKey(modelId));
  const parsed = raw === undefined ? undefined : StoredScores.safeParse(raw);
  // A damaged record is only a lost cache: the items are scored again.
  return new Map(parsed?.success ? Object.entries(parsed.data.scores) : []);
}

export async function writeModelScores(
  store: PipelineStore,
  modelId: string,
  version: string,
  scores: ReadonlyMap<string, number>,
): Promise<void> {
  const record: z.infer<typeof StoredScores> = { schemaVersion: 1, version, scores: Object.fromEntries(scores) };
  await store.putJson(scoresKey(modelId), record);
}
