// `roadwork dataset import <folder>`: images sorted into class folders (roadwork/ and no-roadwork/, or 1/ and 0/,
// nested folders allowed below them) or listed in a CSV of path,label. Re-running skips images the dataset holds.
import { readdir, readFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { describeImage, newRecord, sha256Hex } from "../dataset/image.ts";
import type { LabelSource, NewImageRecord } from "../dataset/record.ts";
import type { DatasetStore } from "../store/dataset-store.ts";
import { commitImport, type ImportIssue, type ImportProgress, type ImportReport, throttled } from "./report.ts";

const IMAGE_EXT = /\.(jpe?g|png|webp)$/i;
/** Class folder names → label. */
export const CLASS_FOLDERS: Record<string, 0 | 1> = {
  roadwork: 1,
  "1": 1,
  "no-roadwork": 0,
  no_roadwork: 0,
  noroadwork: 0,
  "0": 0,
};

export interface FolderImportOptions {
  store: DatasetStore;
  folder: string;
  /** A CSV of path,label (paths relative to the CSV's folder; an empty label = unlabelled). */
  csv?: string;
  /** Who labelled the folders (default human: a person sorted them). */
  labelSource?: LabelSource;
  progress?: ImportProgress;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/** Parses CSV text (RFC 4180 quoting) into rows of fields. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      if (row.some((f) => f !== "")) rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  row.push(field);
  if (row.some((f) => f !== "")) rows.push(row);
  return rows;
}

interface Candidate {
  path: string;
  label: 0 | 1 | null;
  where: string;
}

async function fromCsv(csv: string, warnings: ImportIssue[], errors: ImportIssue[]): Promise<Candidate[]> {
  const rows = parseCsv(await readFile(csv, "utf8"));
  const base = dirname(resolve(csv));
  const header = rows[0]?.map((h) => h.trim().toLowerCase());
  const hasHeader = header?.includes("path") || header?.includes("label");
  const pathCol = hasHeader ? Math.max(0, header!.indexOf("path")) : 0;
  const labelCol = hasHeader ? header!.indexOf("label") : 1;
  const out: Candidate[] = [];
  for (const [i, r] of rows.slice(hasHeader ? 1 : 0).entries()) {
    const where = `${csv}:${i + (hasHeader ? 2 : 1)}`;
    const p = r[pathCol]?.trim();
    if (!p) {
      errors.push({ where, message: "no path" });
      continue;
    }
    const raw = labelCol >= 0 ? (r[labelCol]?.trim() ?? "") : "";
    const label = raw === "" ? null : raw === "1" ? 1 : raw === "0" ? 0 : undefined;
    if (label === undefined) {
      errors.push({ where, message: `label '${raw}' is not 0, 1 or empty` });
      continue;
    }
    if (label === null) warnings.push({ where, message: "no label; imported unlabelled" });
    out.push({ path: isAbsolute(p) ? p : resolve(base, p), label, where });
  }
  return out;
}

async function fromClassFolders(folder: string, warnings: ImportIssue[]): Promise<Candidate[]> {
  const out: Candidate[] = [];
  let classes = 0;
  for (const e of await readdir(folder, { withFileTypes: true })) {
    const label = CLASS_FOLDERS[e.name.toLowerCase()];
    if (!e.isDirectory()) continue;
    if (label === undefined) {
      warnings.push({
        where: join(folder, e.name),
        message: "not a class folder (roadwork, no-roadwork, 1, 0); ignored",
      });
      continue;
    }
    classes++;
    for (const p of await walk(join(folder, e.name))) {
      if (IMAGE_EXT.test(p)) out.push({ path: p, label, where: relative(folder, p) });
    }
  }
  if (classes === 0) {
    throw new Error(
      `${folder} has no class folders: put images in roadwork/ and no-roadwork/ (or 1/ and 0/), or give --csv path,label`,
    );
  }
  return out;
}

export async function importFolder(options: FolderImportOptions): Promise<ImportReport> {
  const { store } = options;
  const progress = options.progress ?? (() => {});
  const tick = throttled(progress);
  const folder = resolve(options.folder);
  const errors: ImportIssue[] = [];
  const warnings: ImportIssue[] = [];
  const candidates = options.csv
    ? await fromCsv(options.csv, warnings, errors)
    : await fromClassFolders(folder, warnings);
  const unreadableRows = errors.length;
  const latest = await store.latestVersion();
  const have = new Map((latest?.records ?? []).map((r) => [r.sha256, r]));
  const labelSource = options.labelSource ?? "human";
  const records: NewImageRecord[] = [];
  let skipped = 0;
  for (const [i, c] of candidates.entries()) {
    tick(`${i + 1}/${candidates.length} ${c.where}`);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(c.path));
    } catch (error) {
      errors.push({
        where: c.where,
        message: `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      });
      continue;
    }
    const label = c.label === null ? {} : { label: c.label, labelSource, labelConfidence: 1 };
    const details = { dataset: folder, file: relative(folder, c.path) };
    const known = have.get(sha256Hex(bytes));
    if (known) {
      // Already imported: no decode, no write; its label still counts if it changed.
      skipped++;
      const { group: _g, split: _s, ...rest } = known;
      records.push({ ...rest, ...(c.label === null ? {} : label) });
      continue;
    }
    try {
      const facts = await describeImage(bytes);
      await store.putImage(bytes);
      records.push(newRecord(facts, { source: "folder", ...label, details }));
    } catch (error) {
      errors.push({ where: c.where, message: (error as Error).message });
    }
  }
  tick(`${candidates.length}/${candidates.length} files (${skipped} already in the dataset)`, true);
  return commitImport(
    store,
    records,
    { source: options.csv ?? folder, seen: candidates.length + unreadableRows, errors, warnings },
    {
      note: `import ${options.csv ? `csv ${options.csv}` : `folder ${folder}`}`,
      ...(latest ? {} : { name: basename(folder) }),
    },
  );
}
