// `datasets/latest/manifest.json` in the pipeline store: the dataset a retrain that names no dataset trains on (the
// retrain trigger's input). It is the training view of the dataset store's newest version (the version-1 manifest
// shape the version step reads; its `id` is the view's content address, `datasetVersion` the store version's id) plus
// `imageRoot`, the dataset store the images stay in, so nothing is copied until a run versions it. Written with one PUT (S3) or temp file + rename (a directory): a reader
// sees the previous version or this one, never a mix.

import type { S3Client } from "@aws-sdk/client-s3";
import {
  type DatasetStore,
  localDatasetStore,
  manifestId,
  type DatasetVersion as StoreVersion,
  s3DatasetStore,
  versionView,
} from "@roadwork/data";
import { z } from "zod";
import type { PipelineStore } from "./blob-store.ts";

export const LATEST_DATASET_KEY = "datasets/latest/manifest.json";

/** The fields this file adds to the manifest. */
export const DatasetPointerFields = z.object({
  /** The dataset store holding `images/…` (s3://bucket/prefix or a directory). */
  imageRoot: z.string().min(1).optional(),
  /** The dataset store's version id this view was made from. */
  datasetVersion: z.string().optional(),
  committedAt: z.string().optional(),
});

export type LatestDatasetOutcome =
  | { written: true; id: string; manifestId: string; images: number }
  | { written: false; id: string; reason: "unchanged" | "no-trainable-images" };

/** Points `datasets/latest/manifest.json` at `version` (a no-op when it already does). */
export async function recordLatestDataset(
  store: PipelineStore,
  version: StoreVersion,
  imageRoot: string,
  now: Date = new Date(),
): Promise<LatestDatasetOutcome> {
  const { manifest } = versionView(version, "");
  if (manifest.records.length === 0) return { written: false, id: version.id, reason: "no-trainable-images" };
  const current = await store.getJson<unknown>(LATEST_DATASET_KEY).catch(() => undefined);
  if (DatasetPointerFields.safeParse(current).data?.datasetVersion === version.id) {
    return { written: false, id: version.id, reason: "unchanged" };
  }
  const id = manifestId(manifest.records);
  await store.putJson(LATEST_DATASET_KEY, {
    ...manifest,
    id,
    datasetVersion: version.id,
    imageRoot,
    committedAt: now.toISOString(),
  });
  return { written: true, id: version.id, manifestId: id, images: manifest.records.length };
}

/** The dataset store an `imageRoot` names: s3://bucket/prefix through the injected client, or a directory. */
export function datasetStoreAt(imageRoot: string, s3: S3Client | undefined): DatasetStore {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(imageRoot);
  if (!m) return localDatasetStore(imageRoot);
  if (!s3) throw new Error(`dataset images at ${imageRoot} need an S3 client`);
  return s3DatasetStore(s3, m[1]!, m[2] ?? "");
}
