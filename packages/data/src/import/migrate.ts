// `roadwork dataset migrate`: a version-1 procedural manifest (what `roadwork start` generates) becomes a dataset
// version whose images are source "procedural". Procedural-only data has no real image to evaluate on, so its split
// policy says so explicitly (evalSources: ["procedural"]); add real images and derive with the default policy.
import { readFile } from "node:fs/promises";
import { describeImage, newRecord } from "../dataset/image.ts";
import { loadManifest, recordPath } from "../dataset/manifest.ts";
import type { NewImageRecord } from "../dataset/record.ts";
import { DEFAULT_SPLIT_POLICY } from "../dataset/version.ts";
import type { DatasetStore } from "../store/dataset-store.ts";
import { commitImport, type ImportIssue, type ImportProgress, type ImportReport, throttled } from "./report.ts";

export async function migrateProceduralManifest(
  manifestPath: string,
  store: DatasetStore,
  progress: ImportProgress = () => {},
): Promise<ImportReport> {
  const dataset = await loadManifest(manifestPath);
  const m = dataset.manifest;
  if (m.source !== "procedural" || !m.generator) {
    throw new Error(`${manifestPath} is not a version-1 procedural manifest; nothing to migrate`);
  }
  const tick = throttled(progress);
  const errors: ImportIssue[] = [];
  const records: NewImageRecord[] = [];
  for (const [i, r] of m.records.entries()) {
    tick(`${i + 1}/${m.records.length} ${r.path}`);
    try {
      const bytes = new Uint8Array(await readFile(recordPath(dataset, r)));
      const facts = await describeImage(bytes);
      if (facts.sha256 !== r.sha256) throw new Error("image changed since the manifest was written (sha256 differs)");
      await store.putImage(bytes);
      records.push(
        newRecord(facts, {
          source: "procedural",
          // Drawn with or without roadwork by construction: the label is the scene's truth.
          label: r.label,
          labelSource: "ground-truth",
          labelConfidence: 1,
          details: {
            generator: m.generator.name,
            generatorVersion: m.generator.version,
            seed: r.seed,
            category: r.category,
            ...(r.conditions ? { conditions: { ...r.conditions } } : {}),
            file: r.path,
          },
        }),
      );
    } catch (error) {
      errors.push({ where: r.path, message: (error as Error).message });
    }
  }
  const latest = await store.getLatest();
  return commitImport(
    store,
    records,
    { source: manifestPath, seen: m.records.length, errors, warnings: [] },
    {
      note: `migrate procedural manifest ${m.id.slice(0, 12)} (${m.name})`,
      ...(latest ? {} : { name: m.name }),
      splitPolicy: { ...DEFAULT_SPLIT_POLICY, fractions: m.generator.splitFractions, evalSources: ["procedural"] },
    },
  );
}
