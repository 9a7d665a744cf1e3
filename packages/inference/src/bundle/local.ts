// Bundles on local disk: read + verify a bundle directory, wrap a bare .onnx file as a one-member bundle,
// and write bundles (for the trainer and the export recipe).
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import type { Calibration } from "../calibration.ts";
import type { LocalBundle } from "../engine.ts";
import { type PreprocessingInput, parsePreprocessing } from "../image/preprocess.ts";
import {
  BundleError,
  MANIFEST_FILE,
  type Manifest,
  type ManifestDraft,
  type ManifestInput,
  manifestFiles,
  parseManifest,
} from "./manifest.ts";

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export const sha256Bytes = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** Checks that every file the manifest names exists and matches its sha256. */
export async function verifyBundleFiles(manifest: Manifest, dir: string): Promise<void> {
  for (const file of manifestFiles(manifest)) {
    const path = join(dir, file.path);
    try {
      const s = await stat(path);
      if (!s.isFile()) throw new Error("not a file");
    } catch {
      throw new BundleError(
        `bundle ${manifest.name}@${manifest.version}: missing file ${file.path} (expected at ${path})`,
      );
    }
    const actual = await sha256File(path);
    if (actual !== file.sha256) {
      throw new BundleError(
        `bundle ${manifest.name}@${manifest.version}: bad checksum for ${file.path}: manifest says ${file.sha256}, file is ${actual}`,
      );
    }
  }
}

/** Reads manifest.json from `dir` and verifies the files it lists. */
export async function readBundleDir(dir: string): Promise<LocalBundle> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new BundleError(
      `no ${MANIFEST_FILE} in ${dir}: a model bundle is a directory with ${MANIFEST_FILE} and its ONNX files`,
    );
  }
  const manifest = parseManifest(text, path);
  await verifyBundleFiles(manifest, dir);
  return { manifest, dir };
}

export interface OnnxFileOptions {
  /** How to read the model's output (default "sigmoid"). */
  outputKind?: "sigmoid" | "logit" | "softmax";
  outputIndex?: number;
  preprocessing?: PreprocessingInput;
  calibration?: Calibration;
}

/** Wraps a single .onnx file as a one-member bundle, reading names and shapes from the model itself. */
export async function bundleFromOnnxFile(path: string, options: OnnxFileOptions = {}): Promise<LocalBundle> {
  let info: { inputs: ort.InferenceSession.ValueMetadata[]; outputs: ort.InferenceSession.ValueMetadata[] };
  try {
    const s = await ort.InferenceSession.create(path, { graphOptimizationLevel: "disabled" });
    info = { inputs: [...s.inputMetadata], outputs: [...s.outputMetadata] };
    await s.release();
  } catch (error) {
    throw new BundleError(`cannot load ONNX model ${path}: ${(error as Error).message.split("\n")[0]}`);
  }
  const input = info.inputs[0];
  const output = info.outputs[0];
  if (!input?.isTensor || !output) throw new BundleError(`${path}: expected one tensor input and at least one output`);
  if (info.inputs.length !== 1) {
    throw new BundleError(
      `${path}: the model has ${info.inputs.length} inputs (${info.inputs.map((i) => i.name).join(", ")}); a bare .onnx must take only pixels`,
    );
  }
  const shape = input.shape;
  const [n, c, h, w] = shape;
  if (shape.length !== 4 || c !== 3 || typeof h !== "number" || typeof w !== "number" || h <= 0 || w <= 0) {
    throw new BundleError(
      `${path}: input '${input.name}' is [${shape.join(",")}]; expected [N,3,H,W] with fixed H and W`,
    );
  }
  const sha256 = await sha256File(path);
  const preprocessing = parsePreprocessing(options.preprocessing ?? { size: { height: h, width: w } });
  const manifest = parseManifest(
    {
      name:
        basename(path)
          .replace(/\.onnx$/i, "")
          .replace(/[^A-Za-z0-9._-]/g, "-") || "model",
      version: `0.0.0+${sha256.slice(0, 12)}`,
      created: new Date((await stat(path)).mtimeMs).toISOString(),
      members: [
        {
          id: "model",
          onnx: basename(path),
          sha256,
          input: {
            name: input.name,
            shape: [typeof n === "number" && n > 0 ? n : "N", 3, h, w],
            dtype: input.type === "float16" ? "float16" : "float32",
          },
          preprocessing,
          output: {
            name: output.name,
            kind: options.outputKind ?? "sigmoid",
            ...(options.outputIndex !== undefined ? { index: options.outputIndex } : {}),
          },
        },
      ],
      ...(options.calibration ? { calibration: options.calibration } : {}),
    } satisfies ManifestInput,
    path,
  );
  return { manifest, dir: dirname(path) };
}

/**
 * Writes a bundle: the given files (path inside the bundle → bytes), then manifest.json with every member's sha256
 * filled in from those bytes. The manifest is written last and atomically, so a reader never sees a manifest
 * whose files are not all there.
 */
export async function writeBundle(
  dir: string,
  manifest: ManifestDraft,
  files: Record<string, Uint8Array>,
): Promise<Manifest> {
  await mkdir(dir, { recursive: true });
  const sums = new Map<string, string>();
  for (const [rel, bytes] of Object.entries(files)) {
    const path = join(dir, rel);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    sums.set(rel, sha256Bytes(bytes));
  }
  const sum = (f: { onnx: string; sha256?: string }): string => f.sha256 ?? sums.get(f.onnx) ?? "";
  const complete = {
    ...manifest,
    created: manifest.created ?? new Date().toISOString(),
    members: manifest.members.map((m) => ({
      ...m,
      sha256: sum(m),
      ...(m.head ? { head: { ...m.head, sha256: sum(m.head) } } : {}),
      ...(m.fp16
        ? {
            fp16: {
              ...m.fp16,
              sha256: sum(m.fp16),
              ...(m.fp16.head ? { head: { ...m.fp16.head, sha256: sum(m.fp16.head) } } : {}),
            },
          }
        : {}),
    })),
  };
  const parsed = parseManifest(complete, join(dir, MANIFEST_FILE));
  await verifyBundleFiles(parsed, dir);
  const tmp = join(dir, `.${MANIFEST_FILE}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(parsed, null, 2)}\n`);
  await rename(tmp, join(dir, MANIFEST_FILE));
  return parsed;
}
