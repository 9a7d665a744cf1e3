// loadScorer: the one call a composition root needs — a model source in, a ready (probed, warmed-up) Scorer out.
import { stat } from "node:fs/promises";
import { bundleFromOnnxFile, type OnnxFileOptions, readBundleDir } from "./bundle/local.ts";
import { BundleError } from "./bundle/manifest.ts";
import { type EngineOptions, type LocalBundle, OnnxScorer } from "./engine.ts";

export interface LoadOptions extends EngineOptions, OnnxFileOptions {
  /** A bundle directory (with manifest.json) or a single .onnx file. */
  model: string;
}

/** Resolves a local model path to a verified bundle on disk. */
export async function resolveLocalModel(model: string, options: OnnxFileOptions = {}): Promise<LocalBundle> {
  let isDir: boolean;
  try {
    isDir = (await stat(model)).isDirectory();
  } catch {
    throw new BundleError(`model not found: ${model} (give a bundle directory or an .onnx file)`);
  }
  if (isDir) return readBundleDir(model);
  if (!model.toLowerCase().endsWith(".onnx")) {
    throw new BundleError(`${model} is neither a bundle directory nor an .onnx file`);
  }
  return bundleFromOnnxFile(model, options);
}

export async function loadScorer(options: LoadOptions): Promise<OnnxScorer> {
  const bundle = await resolveLocalModel(options.model, options);
  return OnnxScorer.load(bundle, options);
}
