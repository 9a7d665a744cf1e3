// Builds a procedural dataset on disk: JPEG scenes plus an immutable manifest with leak-free splits.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Prng } from "../prng.ts";
import { planScene, renderScene } from "../scene/scene.ts";
import {
  type DatasetManifest,
  DatasetManifestSchema,
  type DatasetRecord,
  type LoadedDataset,
  loadManifest,
  manifestId,
  SPLITS,
  type Split,
} from "./manifest.ts";

export const GENERATOR_NAME = "roadwork-procedural-scenes";
export const GENERATOR_VERSION = "1";

export interface GenerateOptions {
  /** Output directory; the manifest is `<dir>/manifest.json`. */
  dir: string;
  count: number;
  baseSeed?: number;
  width?: number;
  height?: number;
  /** Consecutive seeds per split group (default 4). */
  groupSize?: number;
  splitFractions?: { train: number; val: number; test: number };
  name?: string;
  /** Parallel renders (default 4). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Split of a seed group: a pure function of the group number, so a group can never straddle splits. */
export function splitOfGroup(group: number, fractions: { train: number; val: number; test: number }): Split {
  const u = new Prng(`split:${group}`).next();
  const total = fractions.train + fractions.val + fractions.test;
  if (u < fractions.train / total) return "train";
  if (u < (fractions.train + fractions.val) / total) return "val";
  return "test";
}

/**
 * Generates the dataset, or returns the existing one when `<dir>/manifest.json` was made with the same parameters
 * (datasets are immutable: a different request into a non-empty directory is an error).
 */
export async function generateDataset(options: GenerateOptions): Promise<LoadedDataset> {
  const baseSeed = options.baseSeed ?? 1;
  const width = options.width ?? 320;
  const height = options.height ?? 240;
  const groupSize = options.groupSize ?? 4;
  const fractions = options.splitFractions ?? { train: 0.7, val: 0.15, test: 0.15 };
  const manifestPath = join(options.dir, "manifest.json");
  const generator = {
    name: GENERATOR_NAME,
    version: GENERATOR_VERSION,
    baseSeed,
    count: options.count,
    width,
    height,
    groupSize,
    splitFractions: fractions,
  };
  const existing = await readFile(manifestPath, "utf8").catch(() => undefined);
  if (existing !== undefined) {
    const loaded = await loadManifest(manifestPath);
    if (JSON.stringify(loaded.manifest.generator) === JSON.stringify(generator)) return loaded;
    throw new Error(
      `${options.dir} already holds a different dataset (${loaded.manifest.generator?.count} scenes, seed ${loaded.manifest.generator?.baseSeed}); datasets are immutable: choose another directory`,
    );
  }
  await Promise.all(SPLITS.map((s) => mkdir(join(options.dir, "images", s), { recursive: true })));
  const records: DatasetRecord[] = new Array(options.count);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < options.count) {
      const i = next++;
      const seed = baseSeed + i;
      const plan = planScene(seed, { width, height });
      const group = Math.floor(seed / groupSize);
      const split = splitOfGroup(group, fractions);
      const { jpeg } = await renderScene(plan);
      const id = `scene-${seed}`;
      const path = `images/${split}/${id}.jpg`;
      await writeFile(join(options.dir, path), jpeg);
      records[i] = {
        id,
        path,
        sha256: createHash("sha256").update(jpeg).digest("hex"),
        label: plan.label,
        category: plan.category,
        conditions: plan.conditions,
        seed,
        group,
        split,
        width,
        height,
      };
      done++;
      options.onProgress?.(done, options.count);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  const counts: DatasetManifest["counts"] = {};
  for (const s of SPLITS) {
    const rs = records.filter((r) => r.split === s);
    counts[s] = { total: rs.length, positive: rs.filter((r) => r.label === 1).length };
  }
  const manifest: DatasetManifest = DatasetManifestSchema.parse({
    schemaVersion: 1,
    id: manifestId(records),
    name: options.name ?? `procedural-${baseSeed}-${options.count}`,
    source: "procedural",
    description:
      "Procedurally drawn street scenes (SVG rasterized by sharp): roads in perspective with roadwork (cones, barriers, signs, workers, machinery) or without, hard negatives, day/dusk/night, clear/fog/rain. Not photographs and not model-generated; for offline demos and tests.",
    createdAt: new Date().toISOString(),
    generator,
    counts,
    records,
  });
  // Written last and atomically: a manifest on disk means a complete dataset.
  const tmp = `${manifestPath}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(manifest, null, 1)}\n`);
  await rename(tmp, manifestPath);
  return { manifest, root: options.dir };
}
