// Backbones exported by scripts/export-backbone.py (for models with no ONNX on the Hub): a directory with
// backbone.onnx and member.json, which says how to feed the model and where its embedding is. `roadwork train
// --backbone <that directory>` reads it here, so the script's output and the trainer's input are one contract.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PoolingSchema, parsePreprocessing, sha256File } from "@roadwork/inference";
import { z } from "zod";
import type { BackboneInput } from "./pipeline.ts";

export const EXPORT_MEMBER_FILE = "member.json";

/** member.json as scripts/export-backbone.py writes it. */
export const ExportedMemberSchema = z.object({
  id: z.string().min(1),
  onnx: z.string().regex(/^[\w.-]+\.onnx$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  input: z.object({
    name: z.string().min(1),
    shape: z.tuple([
      z.union([z.string(), z.number()]),
      z.literal(3),
      z.number().int().positive(),
      z.number().int().positive(),
    ]),
    dtype: z.enum(["float32", "float16"]).default("float32"),
  }),
  preprocessing: z.record(z.string(), z.unknown()),
  embedding: z.object({
    output: z.string().min(1),
    token: PoolingSchema.default("none"),
    prefixTokens: z.number().int().min(1).default(1),
    dim: z.number().int().positive().optional(),
    pool: z.string().optional(),
  }),
  source: z.record(z.string(), z.unknown()).optional(),
});

/** Reads an export directory and checks backbone.onnx against the sha256 in member.json. */
export async function describeExportedBackbone(dir: string): Promise<BackboneInput> {
  const path = join(dir, EXPORT_MEMBER_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new Error(
      `cannot read ${path}: ${(error as Error).message}; export the backbone with scripts/export-backbone.py`,
    );
  }
  const parsed = ExportedMemberSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${path} is invalid:\n${z.prettifyError(parsed.error)}`);
  const m = parsed.data;
  const onnx = join(dir, m.onnx);
  const actual = await sha256File(onnx).catch(() => undefined);
  if (actual === undefined) throw new Error(`${path} names ${m.onnx}, which is missing from ${dir}`);
  if (actual !== m.sha256)
    throw new Error(`${onnx} does not match member.json (sha256 ${actual}, expected ${m.sha256}); export it again`);
  const [, , h, w] = m.input.shape;
  if (h !== w) throw new Error(`${path}: input ${h}×${w} is not square; the trainer needs a square input`);
  return {
    model: onnx,
    inputName: m.input.name,
    size: h,
    preprocessing: parsePreprocessing(m.preprocessing),
    output: m.embedding.output,
    token: m.embedding.token,
    prefixTokens: m.embedding.prefixTokens,
    inputType: m.input.dtype,
    description: `${m.id} exported by scripts/export-backbone.py (${m.embedding.output}${m.embedding.pool ? `, ${m.embedding.pool}` : ""})`,
    provenance: { export: m.id, file: m.onnx, sha256: m.sha256, ...(m.source ? { source: m.source } : {}) },
  };
}
