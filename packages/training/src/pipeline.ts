// The training run end to end: dataset manifest → validator-augmented views → embeddings → head → threshold →
// held-out evaluation → model bundle + report. The same code trains the offline demo and production heads.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  augmentForChallenge,
  type DatasetRecord,
  drawLevel,
  type LoadedDataset,
  loadManifest,
  Prng,
  recordPath,
  recordsOf,
} from "@roadwork/data";
import type { ExecutionProviderChoice, Manifest, Preprocessing } from "@roadwork/inference";
import { TrainingInterrupted } from "./checkpoint.ts";
import { EmbeddingExtractor } from "./embed.ts";
import type { EmbeddingCache } from "./embedding-cache.ts";
import { writeModelBundle } from "./export.ts";
import { type HeadConfig, type Matrix, predictHead, trainHead } from "./head.ts";
import { binaryMetrics, metricsByCategory, reliability, rocCurve, searchThreshold } from "./metrics.ts";
import { renderReportHtml, type TrainingReport } from "./report.ts";

export type TrainStage = "embed-train" | "embed-val" | "embed-test" | "train-head" | "write-bundle";

export interface BackboneInput {
  /** ONNX file path or bytes. */
  model: string | Uint8Array;
  inputName: string;
  size: number;
  preprocessing: Preprocessing;
  output: string;
  token: "cls" | "none";
  description: string;
}

export interface TrainRunOptions {
  dataset: string | LoadedDataset;
  backbone: BackboneInput;
  /** Bundle directory to write. */
  out: string;
  name?: string;
  version?: string;
  head?: Partial<HeadConfig>;
  /** Validator-augmented views per training image (default 2); test images get 1 each. */
  viewsPerImage?: number;
  /** Validator-augmented views per validation image (default 2). */
  valViewsPerImage?: number;
  /** Seed of the augmentation draws (default 1). */
  seed?: number;
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
}

export interface TrainRunResult {
  manifest: Manifest;
  report: TrainingReport;
  bundleDir: string;
}

interface View {
  record: DatasetRecord;
  view: number;
}

/** The challenge a validator would make of this record: level uniform 0..3, augmented, JPEG q75 at 224×224. */
export async function challengeView(dataset: LoadedDataset, record: DatasetRecord, seed: string): Promise<Buffer> {
  const bytes = await readFile(recordPath(dataset, record));
  const rng = new Prng(seed);
  return (await augmentForChallenge(bytes, drawLevel(rng), rng)).jpeg;
}

export async function trainFromDataset(options: TrainRunOptions): Promise<TrainRunResult> {
  const started = Date.now();
  const durations: Record<string, number> = {};
  const dataset = typeof options.dataset === "string" ? await loadManifest(options.dataset) : options.dataset;
  const { manifest } = dataset;
  const viewsPerImage = options.viewsPerImage ?? 2;
  const seed = options.seed ?? 1;
  const views = (records: DatasetRecord[], n: number): View[] =>
    records.flatMap((record) => Array.from({ length: n }, (_, view) => ({ record, view })));
  const trainViews = views(recordsOf(manifest, "train"), viewsPerImage);
  // Two views per validation image steady the threshold search and early stopping.
  const valViews = views(recordsOf(manifest, "val"), options.valViewsPerImage ?? 2);
  const testViews = views(recordsOf(manifest, "test"), 1);
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
  const cache = options.cache;
  const batchSize = options.batchSize ?? 32;
  const chunk = batchSize * 4;
  const flushEvery = options.flushEvery ?? 2048;
  const embed = async (stage: TrainStage, list: View[], split: string): Promise<Matrix> => {
    const t = Date.now();
    const viewId = (v: View) => `train-view:${seed}:${split}:${v.record.seed}:${v.view}`;
    const rows: (Float32Array | undefined)[] = list.map((v) => cache?.get(v.record.sha256, viewId(v)));
    const missing = rows.flatMap((r, i) => (r === undefined ? [i] : []));
    let done = list.length - missing.length;
    options.onProgress?.(stage, done, list.length, cache ? `${done} cached` : undefined);
    for (let start = 0; start < missing.length; start += chunk) {
      if (options.signal?.aborted) {
        await cache?.flush();
        throw new TrainingInterrupted(stage, done, list.length);
      }
      extractor ??= await EmbeddingExtractor.load(
        {
          model: backboneBytes,
          preprocessing: options.backbone.preprocessing,
          output: options.backbone.output,
          token: options.backbone.token,
        },
        { executionProvider: options.executionProvider ?? "cpu" },
      );
      const part = missing.slice(start, start + chunk);
      const m = await extractor.embed(
        part.length,
        (i) => challengeView(dataset, list[part[i]!]!.record, viewId(list[part[i]!]!)),
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
    await extractor?.close();
  }
  const labels = (list: View[]): number[] => list.map((v) => v.record.label);
  const tTrain = Date.now();
  const headConfig = options.head ?? {};
  const result = trainHead({ x: train, y: labels(trainViews) }, { x: val, y: labels(valViews) }, headConfig, {
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
    },
    head: result.weights,
    threshold: threshold.threshold,
    training: {
      dataset: { id: manifest.id, name: manifest.name, source: manifest.source },
      augmentation: "validator levels 0-3 (uniform), JPEG q75 224x224",
      head: report.model.head,
      threshold: threshold.threshold,
      val: { mcc: valMetrics.mcc, accuracy: valMetrics.accuracy, rocAuc: valMetrics.rocAuc },
      test: { mcc: testMetrics.mcc, accuracy: testMetrics.accuracy, rocAuc: testMetrics.rocAuc, f1: testMetrics.f1 },
      bestEpoch: result.bestEpoch,
    },
  });
  durations.total = Date.now() - started;
  await writeFile(join(options.out, "report.json"), `${JSON.stringify(report, null, 1)}\n`);
  await writeFile(join(options.out, "report.html"), renderReportHtml(report));
  options.onProgress?.("write-bundle", 1, 1);
  return { manifest: bundleManifest, report, bundleDir: options.out };
}
