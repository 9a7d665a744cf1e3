// Captured challenges as the axon's capture writes them, on disk or in S3:
//   captures/YYYY/MM/DD/<sha256>.jpg    the challenge image as the validator sent it
//   captures/YYYY/MM/DD/<sha256>.json   its prediction record (score, model version, caller hotkey, format guess,
//                                       testnet_label when a testnet validator sent one)
// They enter the dataset as source "captured", unlabelled unless a testnet label came with them. Re-running skips
// captures already in the dataset without reading their images.
import { z } from "zod";
import { describeImage, newRecord, sha256Hex } from "../dataset/image.ts";
import type { NewImageRecord, SourceDetails, ValidatorFormat } from "../dataset/record.ts";
import type { BlobStore } from "../store/blobs.ts";
import type { DatasetStore } from "../store/dataset-store.ts";
import { commitImport, type ImportIssue, type ImportProgress, type ImportReport, throttled } from "./report.ts";

/** Capture record fields, in the capture's snake_case or camelCase. */
export const CaptureRecordSchema = z.looseObject({
  sha256: z.string().optional(),
  score: z.number().optional(),
  model_version: z.string().optional(),
  modelVersion: z.string().optional(),
  caller_hotkey: z.string().optional(),
  callerHotkey: z.string().optional(),
  caller: z.string().optional(),
  format_guess: z.string().optional(),
  formatGuess: z.string().optional(),
  validatorFormat: z.string().optional(),
  testnet_label: z.union([z.number(), z.null()]).optional(),
  testnetLabel: z.union([z.number(), z.null()]).optional(),
  captured_at: z.union([z.string(), z.number()]).optional(),
  capturedAt: z.union([z.string(), z.number()]).optional(),
});

/** Maps the capture's format guess onto spec §4.7's behaviours. */
export function validatorFormatOf(guess: string | undefined): ValidatorFormat | undefined {
  const g = (guess ?? "").toLowerCase();
  if (!g) return undefined;
  if (g.includes("letterbox")) return "letterbox-224";
  if (g.includes("native")) return "native";
  if (g.includes("crop") || g.includes("224")) return "crop-224";
  return undefined;
}

export interface CaptureImportOptions {
  store: DatasetStore;
  /** Where the captures are: a directory or a bucket, holding `captures/…`. */
  captures: BlobStore;
  progress?: ImportProgress;
}

const KEY = /^captures\/(\d{4})\/(\d{2})\/(\d{2})\/([0-9a-f]{64})\.(json|jpe?g|png|webp)$/;

export async function importCaptures(options: CaptureImportOptions): Promise<ImportReport> {
  const { store, captures } = options;
  const progress = options.progress ?? (() => {});
  const tick = throttled(progress);
  const keys = await captures.list("captures/");
  const bySha = new Map<string, { json?: string; image?: string }>();
  for (const k of keys) {
    const m = KEY.exec(k);
    if (!m) continue;
    const e = bySha.get(m[4]!) ?? {};
    if (m[5] === "json") e.json = k;
    else e.image = k;
    bySha.set(m[4]!, e);
  }
  const latest = await store.latestVersion();
  const have = new Set((latest?.records ?? []).map((r) => r.sha256));
  const errors: ImportIssue[] = [];
  const warnings: ImportIssue[] = [];
  const records: NewImageRecord[] = [];
  let skipped = 0;
  let i = 0;
  for (const [sha, e] of [...bySha].sort(([a], [b]) => a.localeCompare(b))) {
    tick(`${++i}/${bySha.size} captures`);
    const where = e.json ?? e.image!;
    if (have.has(sha)) {
      skipped++;
      continue;
    }
    if (!e.image) {
      errors.push({ where, message: "prediction record without its image" });
      continue;
    }
    try {
      const bytes = await captures.get(e.image);
      if (!bytes) throw new Error("image vanished while importing");
      if (sha256Hex(bytes) !== sha) throw new Error("image bytes do not match the sha256 in its name");
      const facts = await describeImage(bytes);
      let details: SourceDetails = { file: where };
      let label: 0 | 1 | null = null;
      if (!e.json) warnings.push({ where, message: "image without a prediction record" });
      else {
        const raw = await captures.get(e.json);
        const parsed = CaptureRecordSchema.safeParse(raw ? JSON.parse(new TextDecoder().decode(raw)) : undefined);
        if (!parsed.success) warnings.push({ where, message: "prediction record unreadable; imported without it" });
        else {
          const c = parsed.data;
          const at = c.captured_at ?? c.capturedAt;
          const format = validatorFormatOf(c.format_guess ?? c.formatGuess ?? c.validatorFormat);
          const caller = c.caller_hotkey ?? c.callerHotkey ?? c.caller;
          const model = c.model_version ?? c.modelVersion;
          details = {
            file: where,
            ...(at !== undefined ? { capturedAt: typeof at === "number" ? new Date(at).toISOString() : at } : {}),
            ...(c.score !== undefined ? { score: c.score } : {}),
            ...(model ? { modelVersion: model } : {}),
            ...(caller ? { callerHotkey: caller } : {}),
            ...(format ? { validatorFormat: format } : {}),
          };
          const t = c.testnet_label ?? c.testnetLabel;
          if (t === 0 || t === 1) label = t;
          else if (t !== undefined && t !== null) warnings.push({ where, message: `testnet_label ${t} is not 0 or 1` });
        }
      }
      await store.putImage(bytes);
      records.push(
        newRecord(facts, {
          source: "captured",
          ...(label === null ? {} : { label, labelSource: "testnet-label", labelConfidence: 1 }),
          details,
        }),
      );
    } catch (error) {
      errors.push({ where, message: (error as Error).message });
    }
  }
  tick(`${bySha.size}/${bySha.size} captures (${skipped} already in the dataset)`, true);
  const report = await commitImport(
    store,
    records,
    { source: `${captures.location} captures`, seen: bySha.size, errors, warnings },
    { note: `import captures from ${captures.location}`, ...(latest ? {} : { name: "captures" }) },
  );
  return { ...report, alreadyPresent: report.alreadyPresent + skipped };
}
