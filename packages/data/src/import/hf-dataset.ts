// `roadwork dataset import hf://datasets/<org>/<name>[@revision]`: the NATIX datasets on Hugging Face (e.g.
// natix-network-org/roadwork) as natix's validator cache reads them — every parquet shard of the repo, the image
// struct column's bytes, the `label` and `scene_description` columns. Resumable: a shard finished earlier (same LFS
// object) is not downloaded again, and images already in the store are not written again.
import { createHash } from "node:crypto";
import { z } from "zod";
import { describeImage, newRecord } from "../dataset/image.ts";
import { type NewImageRecord, NewImageRecordSchema } from "../dataset/record.ts";
import type { DatasetStore } from "../store/dataset-store.ts";
import type { HubClient } from "./hub.ts";
import { parseHfUri } from "./hub.ts";
import { type ImageRow, openImageShard } from "./parquet-images.ts";
import { commitImport, type ImportIssue, type ImportProgress, type ImportReport, throttled } from "./report.ts";

const IssueSchema = z.object({ where: z.string(), message: z.string() });
const ShardStateSchema = z.object({
  oid: z.string(),
  records: z.array(NewImageRecordSchema),
  warnings: z.array(IssueSchema),
  errors: z.array(IssueSchema),
});
const StateSchema = z.object({ repo: z.string(), shards: z.record(z.string(), ShardStateSchema) });
type State = z.infer<typeof StateSchema>;

export interface HfImportOptions {
  store: DatasetStore;
  hub: HubClient;
  /** hf://datasets/<org>/<name>[@revision] */
  uri: string;
  progress?: ImportProgress;
  /** Images decoded at once (default 4). */
  concurrency?: number;
}

export async function importHfDataset(options: HfImportOptions): Promise<ImportReport> {
  const { store, hub } = options;
  const progress = options.progress ?? (() => {});
  const tick = throttled(progress);
  const { type, repo, revision } = parseHfUri(options.uri);
  if (type !== "dataset") throw new Error(`${options.uri} names a model; datasets are hf://datasets/<org>/<name>`);
  const commit = await hub.resolveRevision("dataset", repo, revision);
  progress(`${repo}@${revision} is commit ${commit.slice(0, 12)} on ${hub.endpoint}`);
  const shards = (await hub.listFiles("dataset", repo, commit))
    .filter((f) => f.path.endsWith(".parquet"))
    .sort((a, b) => a.path.localeCompare(b.path));
  if (shards.length === 0) throw new Error(`${repo}@${revision} holds no parquet files; is it an image dataset?`);

  const stateName = `import-hf-${createHash("sha256").update(repo).digest("hex").slice(0, 16)}`;
  const saved = StateSchema.safeParse(await store.getState(stateName));
  const state: State = saved.success && saved.data.repo === repo ? saved.data : { repo, shards: {} };

  const errors: ImportIssue[] = [];
  const warnings: ImportIssue[] = [];
  const records: NewImageRecord[] = [];
  let seen = 0;
  for (const [i, file] of shards.entries()) {
    const label = `shard ${i + 1}/${shards.length} ${file.path}`;
    const oid = file.lfs?.oid ?? file.oid ?? `${file.size}`;
    const done = state.shards[file.path];
    if (done && done.oid === oid) {
      progress(`${label}: imported earlier (${done.records.length} images), skipped`);
      records.push(...done.records);
      warnings.push(...done.warnings);
      errors.push(...done.errors);
      seen += done.records.length + done.errors.length;
      continue;
    }
    const shard: z.infer<typeof ShardStateSchema> = { oid, records: [], warnings: [], errors: [] };
    try {
      progress(`${label}: downloading ${((file.lfs?.size ?? file.size ?? 0) / 1e6).toFixed(1)} MB`);
      const bytes = await hub.download("dataset", repo, commit, file);
      const opened = openImageShard(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      );
      if (!opened.labelColumn) {
        shard.warnings.push({ where: file.path, message: "no label column: images imported unlabelled" });
      }
      let n = 0;
      const pending: Promise<void>[] = [];
      const take = async (row: ImageRow) => {
        const where = `${file.path} row ${row.row}`;
        if (!row.bytes) {
          shard.errors.push({ where, message: row.problem ?? "no image" });
          return;
        }
        try {
          const facts = await describeImage(row.bytes);
          if (!(await store.hasImage(facts.sha256))) await store.putImage(row.bytes);
          let l = row.label ?? null;
          if (row.labelProblem) shard.warnings.push({ where, message: `${row.labelProblem}; imported unlabelled` });
          else if (row.label === null) shard.warnings.push({ where, message: "no label; imported unlabelled" });
          if (row.labelProblem) l = null;
          shard.records.push(
            newRecord(facts, {
              source: "natix",
              ...(l === null ? {} : { label: l, labelSource: "ground-truth", labelConfidence: 1 }),
              details: {
                dataset: `${repo}@${commit}`,
                file: file.path,
                row: row.row,
                ...(row.sceneDescription ? { sceneDescription: row.sceneDescription } : {}),
              },
            }),
          );
        } catch (error) {
          shard.errors.push({ where, message: (error as Error).message });
        }
      };
      for await (const row of opened.read()) {
        n++;
        pending.push(take(row));
        if (pending.length >= (options.concurrency ?? 4)) await Promise.all(pending.splice(0));
        tick(`${label}: ${n}/${opened.rows} rows`);
      }
      await Promise.all(pending);
      tick(`${label}: ${n}/${opened.rows} rows, ${shard.errors.length} errors`, true);
      // Keep row order whatever order the decodes finished in.
      shard.records.sort((a, b) => (a.details.row ?? 0) - (b.details.row ?? 0));
      state.shards[file.path] = shard;
      await store.putState(stateName, state);
      seen += n;
    } catch (error) {
      // The shard as a whole failed (download, or not parquet): report it and go on; a re-run tries it again.
      shard.errors.push({ where: file.path, message: (error as Error).message });
      progress(`${label}: failed: ${(error as Error).message}`);
    }
    records.push(...shard.records);
    warnings.push(...shard.warnings);
    errors.push(...shard.errors);
  }

  const hasParent = (await store.getLatest()) !== undefined;
  return commitImport(
    store,
    records,
    { source: `hf://datasets/${repo}@${revision}`, seen, errors, warnings },
    { note: `import hf://datasets/${repo}@${commit}`, ...(hasParent ? {} : { name: repo }) },
  );
}
