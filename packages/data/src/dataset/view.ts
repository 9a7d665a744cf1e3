// The training view of a dataset version: its labelled images that are in a split, in the shape training and the
// simulator read (the version-1 manifest's), with paths into the local store's image directory.
import { readFile, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { imageKey, localDatasetStore } from "../store/dataset-store.ts";
import type { DatasetManifest, DatasetRecord, LoadedDataset } from "./manifest.ts";
import { SPLITS } from "./record.ts";
import { type DatasetVersion, parseVersion } from "./version.ts";

export function versionView(version: DatasetVersion, root: string): LoadedDataset {
  const used = version.records.filter((r) => r.label !== null && r.split !== null);
  const groupIndex = new Map<string, number>();
  for (const r of used) if (!groupIndex.has(r.group)) groupIndex.set(r.group, groupIndex.size);
  const records: DatasetRecord[] = used.map((r, i) => ({
    id: `img-${r.sha256.slice(0, 16)}`,
    path: imageKey(r.sha256),
    sha256: r.sha256,
    label: r.label!,
    category: r.details.category ?? r.source,
    seed: i,
    group: groupIndex.get(r.group)!,
    split: r.split!,
    width: r.width,
    height: r.height,
  }));
  const counts: DatasetManifest["counts"] = {};
  for (const s of SPLITS) {
    const rs = records.filter((r) => r.split === s);
    counts[s] = { total: rs.length, positive: rs.filter((r) => r.label === 1).length };
  }
  const sources = new Set(used.map((r) => r.source));
  const manifest: DatasetManifest = {
    schemaVersion: 1,
    id: version.id,
    name: version.name,
    source: sources.size === 1 ? [...sources][0]! : "mixed",
    description: version.note,
    createdAt: version.createdAt,
    counts,
    records,
  };
  return { manifest, root };
}

/**
 * When `path` is a dataset store directory (holding latest.json) or a version file inside one, returns the view of
 * that version; undefined when it is something else (a version-1 manifest is loaded by the caller).
 */
export async function loadDatasetView(path: string): Promise<LoadedDataset | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory()) {
    if (await stat(join(path, "manifest.json")).catch(() => undefined)) return undefined;
    const store = localDatasetStore(path);
    const version = await store.latestVersion();
    if (!version) {
      throw new Error(`${path} holds no dataset (no latest.json, no manifest.json); run 'roadwork dataset import'`);
    }
    return versionView(version, resolve(path));
  }
  if (!info || !path.endsWith(".json")) return undefined;
  const json = JSON.parse(await readFile(path, "utf8")) as { schemaVersion?: unknown };
  if (json.schemaVersion !== 2) return undefined;
  return versionView(parseVersion(json, path), resolve(dirname(path), ".."));
}
