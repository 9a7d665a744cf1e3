// What every importer returns and prints: how many images it saw, added, already had, and every record it could not
// take with the reason (an import never aborts on one bad record).

import type { DatasetChange } from "../dataset/derive.ts";
import type { NewImageRecord } from "../dataset/record.ts";
import { type DatasetVersion, describeCounts } from "../dataset/version.ts";
import type { DatasetStore } from "../store/dataset-store.ts";

export interface ImportIssue {
  /** Shard and row, file path, or capture key. */
  where: string;
  message: string;
}

export interface ImportReport {
  source: string;
  /** Records read from the source. */
  seen: number;
  /** New images in the dataset. */
  added: number;
  /** Images the dataset already held (a re-run of an import adds nothing). */
  alreadyPresent: number;
  /** Records skipped because of an error; the import went on. */
  errors: ImportIssue[];
  /** Records taken with a caveat (e.g. no label: imported unlabelled). */
  warnings: ImportIssue[];
  version: DatasetVersion | null;
  /** False when the import changed nothing and no new version was written. */
  changed: boolean;
}

/** A line of progress for people (stderr in the CLI). */
export type ImportProgress = (line: string) => void;

/** Prints at most one line a second (plus the last), so a long import shows it is alive without flooding. */
export function throttled(progress: ImportProgress, intervalMs = 1000): (line: string, force?: boolean) => void {
  let last = 0;
  return (line, force = false) => {
    const now = Date.now();
    if (force || now - last >= intervalMs) {
      last = now;
      progress(line);
    }
  };
}

/** Commits an import's records as a new version (or none, when nothing changed) and fills in the report. */
export async function commitImport(
  store: DatasetStore,
  records: NewImageRecord[],
  report: Omit<ImportReport, "added" | "alreadyPresent" | "version" | "changed">,
  change: Omit<DatasetChange, "add">,
): Promise<ImportReport> {
  if (records.length === 0 && (await store.getLatest()) === undefined) {
    // Nothing imported into an empty store: write no empty version.
    return { ...report, added: 0, alreadyPresent: 0, version: null, changed: false };
  }
  const derived = await store.update({ ...change, add: records });
  return {
    ...report,
    added: derived.added.length,
    alreadyPresent: derived.alreadyPresent.length,
    version: derived.changed || derived.version.records.length > 0 ? derived.version : null,
    changed: derived.changed,
  };
}

/** The summary every import prints: what happened, then counts per source, split and label. */
export function describeImport(report: ImportReport): string[] {
  const lines = [
    `${report.source}: ${report.seen} records read, ${report.added} added, ${report.alreadyPresent} already in the dataset, ${report.errors.length} errors, ${report.warnings.length} warnings`,
  ];
  for (const e of report.errors.slice(0, 20)) lines.push(`  error   ${e.where}: ${e.message}`);
  if (report.errors.length > 20) lines.push(`  … ${report.errors.length - 20} more errors`);
  for (const w of report.warnings.slice(0, 10)) lines.push(`  warning ${w.where}: ${w.message}`);
  if (report.warnings.length > 10) lines.push(`  … ${report.warnings.length - 10} more warnings`);
  if (report.version) {
    lines.push(report.changed ? "new version:" : "no change; latest version:");
    lines.push(...describeCounts(report.version));
  }
  return lines;
}
