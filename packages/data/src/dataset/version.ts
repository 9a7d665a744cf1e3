// Dataset versions: immutable, content-addressed manifests. The id is the sha256 of the canonical JSON of everything
// that defines the version (parent, name, note, split policy, records); a version names its parent, so the history
// of a dataset is a chain of ids that cannot be rewritten without every id after it changing.
import { createHash } from "node:crypto";
import { z } from "zod";
import { type ImageRecord, ImageRecordSchema, REAL_SOURCES, Sha256Schema, SOURCES, type SPLITS } from "./record.ts";

export const SplitPolicySchema = z
  .object({
    /** Mixed into the hash that places a new group in a split. */
    seed: z.string(),
    fractions: z.object({ train: z.number().min(0), val: z.number().min(0), test: z.number().min(0) }),
    /** Sources whose images may be in val/test; real images only unless a dataset has none (procedural demos). */
    evalSources: z.array(z.enum(SOURCES)).min(1),
  })
  .strict();
export type SplitPolicy = z.infer<typeof SplitPolicySchema>;

export const DEFAULT_SPLIT_POLICY: SplitPolicy = {
  seed: "roadwork",
  fractions: { train: 0.7, val: 0.15, test: 0.15 },
  evalSources: [...REAL_SOURCES],
};

/** Near-duplicate thresholds (recorded in the version so a group can be explained later). */
export const GroupingPolicySchema = z
  .object({
    /** Two images whose 64-bit perceptual hashes differ in at most this many bits share a group. */
    phashMaxDistance: z.number().int().min(0).max(64),
    /** Two images whose embeddings have at least this cosine similarity share a group (when embeddings are given). */
    cosineMin: z.number().min(-1).max(1),
  })
  .strict();
export type GroupingPolicy = z.infer<typeof GroupingPolicySchema>;

export const DEFAULT_GROUPING_POLICY: GroupingPolicy = { phashMaxDistance: 6, cosineMin: 0.95 };

const CountSchema = z.object({ total: z.number().int(), positive: z.number().int(), unlabelled: z.number().int() });
export type Count = z.infer<typeof CountSchema>;

export const DatasetVersionSchema = z
  .object({
    schemaVersion: z.literal(2),
    id: Sha256Schema,
    parent: Sha256Schema.nullable(),
    name: z.string().min(1),
    /** What this version changed, in words (e.g. "import hf://datasets/natix-network-org/roadwork@main"). */
    note: z.string(),
    /** Not part of the id: the same content made twice is the same version. */
    createdAt: z.string(),
    splitPolicy: SplitPolicySchema,
    groupingPolicy: GroupingPolicySchema,
    /** Derived from the records; per split ("train", "val", "test", "none"), per source and per label source. */
    counts: z.object({
      bySplit: z.record(z.string(), CountSchema),
      bySource: z.record(z.string(), CountSchema),
      byLabelSource: z.record(z.string(), z.number().int()),
    }),
    /** Sorted by sha256; one record per image. */
    records: z.array(ImageRecordSchema),
  })
  .strict();
export type DatasetVersion = z.infer<typeof DatasetVersionSchema>;

/** JSON with object keys sorted at every level and no whitespace: the bytes an id is computed over. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .sort()
          .filter((k) => o[k] !== undefined)
          .map((k) => [k, o[k]]),
      );
    }
    return v;
  });
}

type VersionContent = Pick<DatasetVersion, "parent" | "name" | "note" | "splitPolicy" | "groupingPolicy" | "records">;

export function versionId(v: VersionContent): string {
  const content = {
    schemaVersion: 2,
    parent: v.parent,
    name: v.name,
    note: v.note,
    splitPolicy: v.splitPolicy,
    groupingPolicy: v.groupingPolicy,
    records: v.records,
  };
  return createHash("sha256").update(canonicalJson(content)).digest("hex");
}

export function countRecords(records: readonly ImageRecord[]): DatasetVersion["counts"] {
  const bySplit: Record<string, Count> = {};
  const bySource: Record<string, Count> = {};
  const byLabelSource: Record<string, number> = {};
  const bump = (m: Record<string, Count>, k: string, r: ImageRecord) => {
    const c = m[k] ?? { total: 0, positive: 0, unlabelled: 0 };
    m[k] = c;
    c.total++;
    if (r.label === 1) c.positive++;
    if (r.label === null) c.unlabelled++;
  };
  for (const r of records) {
    bump(bySplit, r.split ?? "none", r);
    bump(bySource, r.source, r);
    byLabelSource[r.labelSource ?? "unlabelled"] = (byLabelSource[r.labelSource ?? "unlabelled"] ?? 0) + 1;
  }
  return { bySplit, bySource, byLabelSource };
}

/** Builds a version from its content: sorts records, computes counts and the id. */
export function sealVersion(content: VersionContent & { createdAt?: string }): DatasetVersion {
  const records = [...content.records].sort((a, b) => (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0));
  const sealed = { ...content, records };
  return DatasetVersionSchema.parse({
    schemaVersion: 2,
    id: versionId(sealed),
    parent: content.parent,
    name: content.name,
    note: content.note,
    createdAt: content.createdAt ?? new Date().toISOString(),
    splitPolicy: content.splitPolicy,
    groupingPolicy: content.groupingPolicy,
    counts: countRecords(records),
    records,
  });
}

/**
 * Validates a version read from outside: schema, id over the content (a version edited after it was made is
 * rejected), one record per image, groups never straddling splits, val/test only from the policy's sources.
 */
export function parseVersion(json: unknown, where = "dataset version"): DatasetVersion {
  const parsed = DatasetVersionSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
      .join("; ");
    throw new Error(`${where} is not a valid dataset version: ${issues}. See docs/data.md.`);
  }
  const v = parsed.data;
  if (versionId(v) !== v.id) {
    throw new Error(`${where}: version id does not match its content; the version was modified after it was made`);
  }
  checkInvariants(v.records, v.splitPolicy, where);
  return v;
}

export function checkInvariants(records: readonly ImageRecord[], policy: SplitPolicy, where: string): void {
  const seen = new Set<string>();
  const groupSplit = new Map<string, string>();
  for (const r of records) {
    if (seen.has(r.sha256)) throw new Error(`${where}: image ${r.sha256} appears twice`);
    seen.add(r.sha256);
    if (r.split === null) continue;
    if (r.label === null) throw new Error(`${where}: unlabelled image ${r.sha256} is in split ${r.split}`);
    if (r.split !== "train" && !policy.evalSources.includes(r.source)) {
      throw new Error(`${where}: ${r.source} image ${r.sha256} is in ${r.split}; val/test hold only real images`);
    }
    const s = groupSplit.get(r.group);
    if (s && s !== r.split) throw new Error(`${where}: group ${r.group} appears in both ${s} and ${r.split}`);
    groupSplit.set(r.group, r.split);
  }
}

export function splitRecords(version: DatasetVersion, split: (typeof SPLITS)[number]): ImageRecord[] {
  return version.records.filter((r) => r.split === split);
}

/** One line per label and per source, as the importers and `roadwork dataset show` print them. */
export function describeCounts(version: DatasetVersion): string[] {
  const fmt = (c: Count) =>
    `${c.total} images: ${c.positive} roadwork, ${c.total - c.positive - c.unlabelled} no roadwork, ${c.unlabelled} unlabelled`;
  const lines = [`version ${version.id.slice(0, 12)} (${version.name}): ${version.records.length} images`];
  for (const [s, c] of Object.entries(version.counts.bySource).sort()) lines.push(`  source ${s.padEnd(10)} ${fmt(c)}`);
  for (const [s, c] of Object.entries(version.counts.bySplit).sort()) lines.push(`  split  ${s.padEnd(10)} ${fmt(c)}`);
  for (const [s, n] of Object.entries(version.counts.byLabelSource).sort()) lines.push(`  label  ${s.padEnd(13)} ${n}`);
  return lines;
}
