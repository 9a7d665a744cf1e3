// loadScorer: the one call a composition root needs — a model source in, a ready (probed, warmed-up) Scorer out.
import { stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { bundleFromOnnxFile, type OnnxFileOptions, readBundleDir } from "./bundle/local.ts";
import { BundleError, bundleVersion } from "./bundle/manifest.ts";
import { isPointerSource, readPointer } from "./bundle/pointer.ts";
import { fetchRemoteBundle, parseRemoteSource, type RemoteOptions } from "./bundle/remote.ts";
import { type EngineOptions, type LocalBundle, OnnxScorer } from "./engine.ts";

export interface ResolveOptions extends RemoteOptions, OnnxFileOptions {}

export interface LoadOptions extends EngineOptions, ResolveOptions {
  /**
   * A bundle directory (with manifest.json), a manifest.json, a single .onnx file, s3://bucket/prefix,
   * hf://org/name[@revision], or a pointer .json (e.g. s3://bucket/models/current.json) naming one of those.
   */
  model: string;
}

/** Resolves any model source to a verified bundle on local disk. */
export async function resolveModel(source: string, options: ResolveOptions = {}): Promise<LocalBundle> {
  if (isPointerSource(source)) {
    const pointer = await readPointer(source, options.s3);
    if (isPointerSource(pointer.bundle)) throw new BundleError(`model pointer ${source} points at another pointer`);
    const bundle = await resolveModel(pointer.bundle, options);
    if (
      pointer.version &&
      pointer.version !== bundle.manifest.version &&
      pointer.version !== bundleVersion(bundle.manifest)
    ) {
      throw new BundleError(
        `model pointer ${source} expects version ${pointer.version} but ${pointer.bundle} is ${bundleVersion(bundle.manifest)}`,
      );
    }
    return bundle;
  }
  if (parseRemoteSource(source)) return fetchRemoteBundle(source, options);
  return resolveLocalModel(source, options);
}

/** Resolves a local path (bundle dir, manifest.json or .onnx) to a verified bundle. */
export async function resolveLocalModel(model: string, options: OnnxFileOptions = {}): Promise<LocalBundle> {
  let isDir: boolean;
  try {
    isDir = (await stat(model)).isDirectory();
  } catch {
    throw new BundleError(`model not found: ${model} (give a bundle directory, manifest.json or an .onnx file)`);
  }
  if (isDir) return readBundleDir(model);
  if (basename(model) === "manifest.json") return readBundleDir(dirname(model));
  if (!model.toLowerCase().endsWith(".onnx")) {
    throw new BundleError(`${model} is neither a bundle directory nor an .onnx file`);
  }
  return bundleFromOnnxFile(model, options);
}

export async function loadScorer(options: LoadOptions): Promise<OnnxScorer> {
  const bundle = await resolveModel(options.model, options);
  return OnnxScorer.load(bundle, options);
}
