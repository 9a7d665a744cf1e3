// Deriving a new dataset version from an old one: add images, change labels, remove images. Every tool that grows a
// dataset (importers, capture, teacher, review page, synthesis, the pipeline) goes through here, so groups, splits
// and label precedence are decided in one place.
import { createHash } from "node:crypto";
import { assignGroups } from "./groups.ts";
import {
  type ImageRecord,
  LABEL_PRECEDENCE,
  type LabelChange,
  LabelChangeSchema,
  type NewImageRecord,
  NewImageRecordSchema,
  type Split,
} from "./record.ts";
import {
  checkInvariants,
  type DatasetVersion,
  DEFAULT_GROUPING_POLICY,
  DEFAULT_SPLIT_POLICY,
  type GroupingPolicy,
  type SplitPolicy,
  sealVersion,
} from "./version.ts";

export interface DatasetChange {
  /** What changed, in words; recorded in the version. */
  note: string;
  /** Defaults to the parent's name, or "dataset". */
  name?: string;
  /** New images. One already in the parent is not added twice; its label is updated by precedence instead. */
  add?: readonly NewImageRecord[];
  /** New labels for images in the parent (or added in this change). */
  labels?: readonly LabelChange[];
  /** sha256s to drop. */
  remove?: readonly string[];
  /** Backbone embeddings by sha256, for near-duplicate grouping by cosine similarity. */
  embeddings?: ReadonlyMap<string, ArrayLike<number>>;
  /** Override the parent's policies (new datasets use the defaults). */
  splitPolicy?: SplitPolicy;
  groupingPolicy?: GroupingPolicy;
  createdAt?: string;
}

export interface DerivedVersion {
  version: DatasetVersion;
  /** False when the change changed nothing: `version` is then the parent itself and no new version need be stored. */
  changed: boolean;
  added: string[];
  /** Images in `add` that the parent already held. */
  alreadyPresent: string[];
  relabelled: string[];
  /** Label changes not applied: the image is unknown, or its label comes from a stronger source. */
  labelsRejected: { sha256: string; reason: string }[];
  removed: string[];
}

const SPLIT_PRIORITY: Record<Split, number> = { train: 0, val: 1, test: 2 };

/** Where a new group goes: a pure function of its id and the policy's seed, so it does not depend on import order. */
export function splitOfNewGroup(groupId: string, policy: SplitPolicy): Split {
  const h = createHash("sha256").update(`${policy.seed}:${groupId}`).digest();
  const u = h.readUInt32BE(0) / 2 ** 32;
  const { train, val, test } = policy.fractions;
  const total = train + val + test;
  if (u < train / total) return "train";
  if (u < (train + val) / total) return "val";
  return "test";
}

function applyLabel(
  record: NewImageRecord,
  change: LabelChange,
): { record: NewImageRecord; applied: boolean; reason?: string } {
  if (record.labelSource !== null && LABEL_PRECEDENCE[change.labelSource] < LABEL_PRECEDENCE[record.labelSource]) {
    return { record, applied: false, reason: `keeps its ${record.labelSource} label over a ${change.labelSource} one` };
  }
  if (
    record.label === change.label &&
    record.labelSource === change.labelSource &&
    record.labelConfidence === change.labelConfidence
  ) {
    return { record, applied: false, reason: "label unchanged" };
  }
  return {
    record: {
      ...record,
      label: change.label,
      labelSource: change.labelSource,
      labelConfidence: change.labelConfidence,
    },
    applied: true,
  };
}

const strip = (r: ImageRecord): NewImageRecord => {
  const { group: _g, split: _s, ...rest } = r;
  return rest;
};

/**
 * Applies a change to a parent version (or to nothing, for a new dataset) and returns the sealed child version.
 * Pure: it stores nothing (see `commitVersion`).
 */
export function deriveVersion(parent: DatasetVersion | null, change: DatasetChange): DerivedVersion {
  const splitPolicy = change.splitPolicy ?? parent?.splitPolicy ?? DEFAULT_SPLIT_POLICY;
  const groupingPolicy = change.groupingPolicy ?? parent?.groupingPolicy ?? DEFAULT_GROUPING_POLICY;
  const prior = new Map<string, ImageRecord>((parent?.records ?? []).map((r) => [r.sha256, r]));
  const current = new Map<string, NewImageRecord>([...prior].map(([k, r]) => [k, strip(r)]));

  const removed: string[] = [];
  for (const sha of change.remove ?? []) if (current.delete(sha)) removed.push(sha);

  const added: string[] = [];
  const alreadyPresent: string[] = [];
  const relabelled = new Set<string>();
  const labelsRejected: DerivedVersion["labelsRejected"] = [];
  for (const raw of change.add ?? []) {
    const r = NewImageRecordSchema.parse(raw);
    const have = current.get(r.sha256);
    if (!have) {
      current.set(r.sha256, r);
      added.push(r.sha256);
      continue;
    }
    alreadyPresent.push(r.sha256);
    if (r.label !== null) {
      const out = applyLabel(have, {
        sha256: r.sha256,
        label: r.label,
        labelSource: r.labelSource!,
        labelConfidence: r.labelConfidence!,
      });
      if (out.applied) {
        current.set(r.sha256, out.record);
        relabelled.add(r.sha256);
      }
    }
  }
  for (const raw of change.labels ?? []) {
    const c = LabelChangeSchema.parse(raw);
    const have = current.get(c.sha256);
    if (!have) {
      labelsRejected.push({ sha256: c.sha256, reason: "not in the dataset" });
      continue;
    }
    const out = applyLabel(have, c);
    if (out.applied) {
      current.set(c.sha256, out.record);
      relabelled.add(c.sha256);
    } else if (out.reason !== "label unchanged") labelsRejected.push({ sha256: c.sha256, reason: out.reason! });
  }

  const policiesSame =
    parent !== null &&
    JSON.stringify(parent.splitPolicy) === JSON.stringify(splitPolicy) &&
    JSON.stringify(parent.groupingPolicy) === JSON.stringify(groupingPolicy);
  const result = { added, alreadyPresent, relabelled: [...relabelled], labelsRejected, removed };
  if (parent && policiesSame && added.length === 0 && relabelled.size === 0 && removed.length === 0) {
    return { version: parent, changed: false, ...result };
  }

  const records = [...current.values()];
  const groups = assignGroups(
    records.map((r) => ({
      sha256: r.sha256,
      phash: r.phash,
      parentSha256: r.details.parentSha256,
      priorGroup: prior.get(r.sha256)?.group,
    })),
    groupingPolicy,
    change.embeddings,
  );

  // A group keeps the split it had (the most held-out one, when groups merged); a new group is placed by hash if it
  // holds an image that may be evaluated on, else it trains.
  const members = new Map<string, NewImageRecord[]>();
  for (const r of records) {
    const g = groups.get(r.sha256)!;
    const list = members.get(g);
    if (list) list.push(r);
    else members.set(g, [r]);
  }
  const groupSplit = new Map<string, Split>();
  for (const [g, list] of members) {
    let kept: Split | undefined;
    for (const r of list) {
      const s = prior.get(r.sha256)?.split;
      if (s && (kept === undefined || SPLIT_PRIORITY[s] > SPLIT_PRIORITY[kept])) kept = s;
    }
    const evaluable = list.some((r) => r.label !== null && splitPolicy.evalSources.includes(r.source));
    groupSplit.set(g, kept ?? (evaluable ? splitOfNewGroup(g, splitPolicy) : "train"));
  }

  const out: ImageRecord[] = records.map((r) => {
    const group = groups.get(r.sha256)!;
    const s = groupSplit.get(group)!;
    const split = r.label === null ? null : s !== "train" && !splitPolicy.evalSources.includes(r.source) ? null : s;
    return { ...r, group, split };
  });
  const name = change.name ?? parent?.name ?? "dataset";
  checkInvariants(out, splitPolicy, `dataset ${name}`);
  const version = sealVersion({
    parent: parent?.id ?? null,
    name,
    note: change.note,
    splitPolicy,
    groupingPolicy,
    records: out,
    ...(change.createdAt ? { createdAt: change.createdAt } : {}),
  });
  return { version, changed: true, ...result };
}
