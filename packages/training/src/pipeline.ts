// The training run end to end: dataset manifest → validator-augmented views → embeddings → head → threshold →
// held-out evaluation → model bundle + report. The same code trains the offline demo and production heads.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type ChallengeFormat,
  type DatasetRecord,
  DEFAULT_FORMAT_MIX,
  describeFormatMix,
  drawFormat,
  drawNativeKind,
  type FormatMix,
  formatChallenge,
  formatsOf,
  type LoadedDataset,
  loadManifest,
  Prng,
  recordPath,
  recordsOf,
} from "@roadwork/data";
import type { ExecutionProviderChoice, Manifest, Pooling, Preprocessing } from "@roadwork/inference";
import { TrainingInterrupted } from "./checkpoint.ts";
import { type BackboneSpec, EmbeddingExtractor } from "./embed.ts";
import type { EmbeddingCache } from "./embedding-cache.ts";
import { writeModelBundle } from "./export.ts";
import { type HeadConfig, type HeadWeights, type Matrix, predictHead, trainHead } from "./head.ts";
import { binaryMetrics, metricsByCategory, reliability, rocCurve, searchThreshold } from "./metrics.ts";
import { renderReportHtml, type TrainingReport } from "./report.ts";
import { nativeFrame } from "./simulator/challenges.ts";
import { ViewPool, viewWorkersFor } from "./view-pool.ts";

export type TrainStage = "embed-train" | "embed-val" | "embed-test" | "train-head" | "write-bundle";

export interface BackboneInput {
  /** ONNX file path or bytes. */
  model: string | Uint8Array;
  inputName: string;
  size: number;
  preprocessing: Preprocessing;
  output: string;
  /** How the output becomes one row per image (see @roadwork/inference pooling). */
  token: Pooling;
  /** Tokens before the patches (1 + register tokens) for "mean"/"cls+mean"; default 1. */
  prefixTokens?: number;
  /** The pixel input's element type (fp16 exports take float16); default float32. */
  inputType?: "float32" | "float16";
  description: string;
  /** Where the backbone came from (e.g. the Hugging Face repo, commit and file with its sha256), kept in the bundle. */
  provenance?: Record<string, unknown>;
}

/** What the embedding extractor needs of a backbone input (`model`: the same ONNX, already read, where it was). */
export function extractorSpec(backbone: BackboneInput, model: string | Uint8Array = backbone.model): BackboneSpec {
  return {
    model,
    preprocessing: backbone.preprocessing,
    output: backbone.output,
    token: backbone.token,
    inputName: backbone.inputName,
    ...(backbone.prefixTokens !== undefined ? { prefixTokens: backbone.prefixTokens } : {}),
  };
}

export interface TrainRunOptions {
  dataset: string | LoadedDataset;
  backbone: BackboneInput;
  /** Bundle directory to write. */
  out: string;
  name?: string;
  version?: string;
  head?: Partial<HeadConfig>;
  /**
   * Start the head from these weights (the champion's head on the same backbone) for a short schedule (head.ts
   * warmStart); taken only when the shape matches and it beats a coin flip on this validation set.
   */
  warmStart?: { weights: HeadWeights; epochs?: number; patience?: number };
  /** Validator-augmented views per training image (default 2); test images get 1 each. */
  viewsPerImage?: number;
  /** Validator-augmented views per validation image (default 2). */
  valViewsPerImage?: number;
  /** Seed of the augmentation draws (default 1). */
  seed?: number;
  /**
   * Validator formats (spec §4.7) to train and evaluate on (default: jan, apr and may in equal shares). Each
   * training/validation view draws its format from the mix; every test image is evaluated in every format.
   */
  formats?: FormatMix;
  /**
   * Test images in the "may" format at a real native size (1920×1080 dashcam / 1024×1024 synthetic) rather than at
   * their stored size (default false; `roadwork train` turns it on). Procedural scenes are re-drawn at that size,
   * which takes ~0.3 s a frame; other sources are stored at their native size already.
   */
  nativeTestFrames?: boolean;
  onProgress?: (stage: TrainStage, done: number, total: number, detail?: string) => void;
  /** Vectors already computed with this backbone are taken from here; new ones are added and flushed. */
  cache?: EmbeddingCache;
  /** Flush the cache after this many new vectors (default 2048), so an interrupted run loses little. */
  flushEvery?: number;
  /** Aborting (SIGTERM) flushes the cache and rejects with TrainingInterrupted between two embedding chunks. */
  signal?: AbortSignal;
  /** onnxruntime execution provider for the backbone (default cpu). */
  executionProvider?: ExecutionProviderChoice;
  /** Images per backbone batch (default 32). */
  batchSize?: number;
  /** Worker threads drawing views (default: none below 2000 views to draw, else cores − 1; ROADWORK_VIEW_WORKERS). */
  viewWorkers?: number;
}

export interface TrainRunResult {
  manifest: Manifest;
  report: TrainingReport;
  bundleDir: string;
  /** The trained head (a later retrain on the same backbone can start from it). */
  head: HeadWeights;
  /** Whether the warm start was taken (absent without one). */
  warmStart?: { used: boolean; valLoss: number; reason?: string };
}

interface View {
  record: DatasetRecord;
  view: number;
  format: ChallengeFormat;
}

/**
 * The challenge a validator of `format` would make of this record (default "jan": level uniform 0..3, augmented,
 * JPEG q75 at 224×224). With `native`, a "may" view is the frame at a real native size; otherwise the stored image
 * is taken as the native frame (quicker, and exactly right for sources stored at full resolution).
 */
export async function challengeView(
  dataset: LoadedDataset,
  record: DatasetRecord,
  seed: string,
  format: ChallengeFormat = "jan",
  options: { native?: boolean } = {},
): Promise<Buffer> {
  const rng = new Prng(seed);
  const bytes =
    format === "may" && options.native
      ? await nativeFrame(dataset, record, drawNativeKind(rng.fork("native")))
      : await readFile(recordPath(dataset, record));
  return (await formatChallenge(bytes, format, rng)).jpeg;
}

export async function trainFromDataset(options: TrainRunOptions): Promise<TrainRunResult> {
  const started = Date.now();
  const durations: Record<string, number> = {};
  const dataset = typeof options.dataset === "string" ? await loadManifest(options.dataset) : options.dataset;
  const { manifest } = dataset;
  const viewsPerImage = options.viewsPerImage ?? 2;
  const seed = options.seed ?? 1;
  const mix = options.formats ?? DEFAULT_FORMAT_MIX;
  const formats = formatsOf(mix);
  if (formats.length === 0) throw new Error("no validator format to train on: give at least one of jan, apr, may");
  const nativeTest = options.nativeTestFrames ?? false;
  const views = (records: DatasetRecord[], n: number, split: string): View[] =>
    records.flatMap((record) =>
      Array.from({ length: n }, (_, view) => ({
        record,
        view,
        format: drawFormat(new Prng(`format:${seed}:${split}:${record.id}:${view}`), mix),
      })),
    );
  const trainViews = views(recordsOf(manifest, "train"), viewsPerImage, "train");
  // Two views per validation image steady the threshold search and early stopping.
  const valViews = views(recordsOf(manifest, "val"), options.valViewsPerImage ?? 2, "val");
  // Every test image in every format: per-format metrics compare the same images.
  const testViews = recordsOf(manifest, "test").flatMap((record) =>
    formats.map((format, view) => ({ record, view, format })),
  );
  for (const [name, v] of [
    ["train", trainViews],
    ["val", valViews],
    ["test", testViews],
  ] as const) {
    if (v.length === 0) throw new Error(`dataset ${manifest.name} has no ${name} images; generate more scenes`);
  }

  const backboneBytes =
    typeof options.backbone.model === "string" ? await readFile(options.backbone.model) : options.backbone.model;
  // Loaded only when something is missing from the cache: a fully cached retrain never runs the backbone.
  let extractor: EmbeddingExtractor | undefined;
  // Views drawn on worker threads when there are many to draw (the augmentations are JavaScript raster work).
  let pool: ViewPool | undefined;
  const cache = options.cache;
  const batchSize = options.batchSize ?? 32;
  const chunk = batchSize * 8;
  const flushEvery = options.flushEvery ?? 2048;
  const embed = async (stage: TrainStage, list: View[], split: string): Promise<Matrix> => {
    const t = Date.now();
    // The format is part of the view: its pixels differ, and so must its cache key.
    const native = split === "test" && nativeTest;
    const viewId = (v: View) =>
      `train-view:${seed}:${split}:${v.record.seed}:${v.view}:${v.format}${native && v.format === "may" ? ":native" : ""}`;
    const rows: (Float32Array | undefined)[] = list.map((v) => cache?.get(v.record.sha256, viewId(v)));
    const missing = rows.flatMap((r, i) => (r === undefined ? [i] : []));
    let done = list.length - missing.length;
    options.onProgress?.(stage, done, list.length, cache ? `${done} cached` : undefined);
    for (let start = 0; start < missing.length; start += chunk) {
      if (options.signal?.aborted) {
        await cache?.flush();
        throw new TrainingInterrupted(stage, done, list.length);
      }
      extractor ??= await EmbeddingExtractor.load(extractorSpec(options.backbone, backboneBytes), {
        executionProvider: options.executionProvider ?? "cpu",
      });
      pool ??= new ViewPool(options.viewWorkers ?? viewWorkersFor(missing.length));
      const views = pool;
      const part = missing.slice(start, start + chunk);
      const m = await extractor.embed(
        part.length,
        // Native frames are re-drawn at full size here and handed over as bytes; stored frames are drawn by the
        // workers (same seed, same bytes, same pixels), which write whole rows into the batch (ViewPool.feed).
        views.feed(async (i) => {
          const v = list[part[i]!]!;
          return native && v.format === "may"
            ? { bytes: await challengeView(dataset, v.record, viewId(v), v.format, { native }) }
            : { path: recordPath(dataset, v.record), format: v.format, seed: viewId(v) };
        }),
        { batchSize },
      );
      part.forEach((idx, i) => {
        const row = m.data.subarray(i * m.cols, (i + 1) * m.cols);
        rows[idx] = row;
        cache?.add(list[idx]!.record.sha256, viewId(list[idx]!), row);
      });
      done += part.length;
      if (cache && cache.pending >= flushEvery) await cache.flush();
      options.onProgress?.(stage, done, list.length);
    }
    await cache?.flush();
    const dim = rows[0]?.length ?? 0;
    const data = new Float32Array(list.length * dim);
    rows.forEach((r, i) => {
      data.set(r!, i * dim);
    });
    durations[stage] = Date.now() - t;
    return { rows: list.length, cols: dim, data };
  };
  let train: Matrix;
  let val: Matrix;
  let test: Matrix;
  try {
    train = await embed("embed-train", trainViews, "train");
    val = await embed("embed-val", valViews, "val");
    test = await embed("embed-test", testViews, "test");
  } finally {
    if (extractor) {
      // Where embedding time went (views are drawn inside "prepare"): the phase profile bench:train reports.
      const st = extractor.stats;
      durations["embed-prepare"] = Math.round(st.prepareMs);
      durations["embed-wait"] = Math.round(st.waitMs);
      durations["embed-run"] = Math.round(st.runMs);
      durations["embed-pool"] = Math.round(st.poolMs);
    }
    await extractor?.close();
    await pool?.close();
  }
  const labels = (list: View[]): number[] => list.map((v) => v.record.label);
  const tTrain = Date.now();
  const headConfig = options.head ?? {};
  const result = trainHead({ x: train, y: labels(trainViews) }, { x: val, y: labels(valViews) }, headConfig, {
    ...(options.warmStart ? { warmStart: options.warmStart } : {}),
    onEpoch: (r, config) =>
      options.onProgress?.(
        "train-head",
        r.epoch + 1,
        config.epochs,
        `val loss ${r.valLoss.toFixed(4)} acc ${r.valAccuracy.toFixed(3)}`,
      ),
  });
  durations["train-head"] = Date.now() - tTrain;

  const valScores = [...predictHead(result.weights, val)];
  const testScores = [...predictHead(result.weights, test)];
  const threshold = searchThreshold(valScores, labels(valViews));
  const valMetrics = binaryMetrics(valScores, labels(valViews), threshold.threshold);
  const testMetrics = binaryMetrics(testScores, labels(testViews), threshold.threshold);
  const name = options.name ?? "roadwork-demo";
  const version = options.version ?? `1.0.0+${manifest.id.slice(0, 12)}`;
  const report: TrainingReport = {
    model: {
      name,
      version,
      head: result.weights.kind === "mlp" ? `MLP (${result.weights.hidden} hidden units)` : "logistic regression",
      backbone: options.backbone.description,
    },
    dataset: {
      id: manifest.id,
      name: manifest.name,
      source: manifest.source,
      train: recordsOf(manifest, "train").length,
      val: recordsOf(manifest, "val").length,
      test: recordsOf(manifest, "test").length,
      viewsPerImage,
    },
    threshold: { value: threshold.threshold, valMcc: threshold.mcc, mappedTo: 0.5 },
    history: result.history,
    bestEpoch: result.bestEpoch,
    stoppedEarly: result.stoppedEarly,
    val: valMetrics,
    test: testMetrics,
    testByCategory: metricsByCategory(
      testScores,
      labels(testViews),
      testViews.map((v) => v.record.category),
      threshold.threshold,
    ),
    formats: { mix: describeFormatMix(mix), nativeTestFrames: nativeTest },
    testByFormat: metricsByCategory(
      testScores,
      labels(testViews),
      testViews.map((v) => v.format),
      threshold.threshold,
    ),
    testRoc: rocCurve(testScores, labels(testViews)),
    testReliability: reliability(testScores, labels(testViews)),
    durationsMs: durations,
  };
  options.onProgress?.("write-bundle", 0, 1);
  const bundleManifest = await writeModelBundle({
    dir: options.out,
    name,
    version,
    description: `Roadwork classifier: ${report.model.head} on ${options.backbone.description}`,
    backbone: {
      bytes: backboneBytes,
      inputName: options.backbone.inputName,
      size: options.backbone.size,
      preprocessing: options.backbone.preprocessing,
      output: options.backbone.output,
      token: options.backbone.token,
      prefixTokens: options.backbone.prefixTokens ?? 1,
      dtype: options.backbone.inputType ?? "float32",
    },
    head: result.weights,
    threshold: threshold.threshold,
    training: {
      dataset: { id: manifest.id, name: manifest.name, source: manifest.source },
      ...(options.backbone.provenance ? { backbone: options.backbone.provenance } : {}),
      augmentation: `validator formats ${describeFormatMix(mix)} (jan: levels 0-3 crops; apr: letterbox; may: native frames), JPEG q75`,
      head: report.model.head,
      threshold: threshold.threshold,
      val: { mcc: valMetrics.mcc, accuracy: valMetrics.accuracy, rocAuc: valMetrics.rocAuc },
      test: { mcc: testMetrics.mcc, accuracy: testMetrics.accuracy, rocAuc: testMetrics.rocAuc, f1: testMetrics.f1 },
      testByFormat: Object.fromEntries(
        Object.entries(report.testByFormat ?? {}).map(([f, m]) => [
          f,
          { mcc: m.mcc, accuracy: m.accuracy, count: m.count },
        ]),
      ),
      bestEpoch: result.bestEpoch,
    },
  });
  durations.total = Date.now() - started;
  await writeFile(join(options.out, "report.json"), `${JSON.stringify(report, null, 1)}\n`);
  await writeFile(join(options.out, "report.html"), renderReportHtml(report));
  options.onProgress?.("write-bundle", 1, 1);
  return {
    manifest: bundleManifest,
    report,
    bundleDir: options.out,
    head: result.weights,
    ...(result.warmStart ? { warmStart: result.warmStart } : {}),
  };
}
