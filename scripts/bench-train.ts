// `npm run bench:train`: how long the retraining flywheel takes, as JSON.
//   1. embedding throughput (images/s) on the validators' 224×224 views (jan crops, apr letterboxes) of a backbone through the trainer's EmbeddingExtractor (decode + preprocess +
//      onnxruntime), on CPU or CUDA, fp32 or fp16, with its phase profile (prepare / wait / run / pool) so a missed
//      target says whether the input side or the backbone held it back;
//   2. dataset version → promoted bundle: the pipeline's own steps (version, train with the embedding cache,
//      evaluate challenger and champion on the frozen set, gate, promote) on N procedural images;
//   3. the same after adding M images to the cached N (only the new images are embedded).
// Scene rendering happens before the clock starts (it stands in for images already in S3). The N-image version is
// the first N records of the (N+M)-image dataset: the same scenes, so the second run finds them in the cache.
//
//   node --import tsx scripts/bench-train.ts [--images 400] [--add 40] [--backbone demo|<backbone.onnx>|<export dir>]
//        [--ep cpu|cuda] [--batch 32] [--throughput-images 256 (0: none)] [--throughput-batches 128,256,512]
//        [--in-graph auto|always|never] [--concurrency <cores>] [--skip-pipeline] [--generate-only] [--target-throughput <img/s>] [--target-first-s <s>] [--target-added-s <s>]
//        [--label <name>] [--out <file.json>] [--work <dir>]

import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { type DatasetManifest, generateDataset, manifestId, recordPath } from "@roadwork/data";
import {
  ensureLocalPointer,
  evaluate,
  gate,
  LocalDirStore,
  LocalPointerStore,
  type PipelineContext,
  promote,
  train,
  versionDataset,
} from "@roadwork/pipeline";
import {
  type BackboneInput,
  challengeView,
  DEMO_HEAD,
  demoBackboneInput,
  describeBackbone,
  describeExportedBackbone,
  EmbeddingExtractor,
  ViewPool,
  viewWorkersFor,
} from "@roadwork/training";

const { values } = parseArgs({
  options: {
    images: { type: "string", default: "400" },
    add: { type: "string", default: "40" },
    backbone: { type: "string", default: "demo" },
    ep: { type: "string", default: "cpu" },
    batch: { type: "string", default: "32" },
    "throughput-images": { type: "string", default: "256" },
    "throughput-batches": { type: "string" },
    "generate-only": { type: "boolean", default: false },
    "in-graph": { type: "string", default: "auto" },
    concurrency: { type: "string", default: String(Math.max(4, cpus().length)) },
    "skip-pipeline": { type: "boolean", default: false },
    "target-throughput": { type: "string" },
    "target-first-s": { type: "string" },
    "target-added-s": { type: "string" },
    label: { type: "string" },
    out: { type: "string" },
    work: { type: "string" },
  },
});
const ep = values.ep === "cuda" ? "cuda" : "cpu";
const batch = Number(values.batch);
const images = Number(values.images);
const add = Number(values.add);
const concurrency = Number(values.concurrency);
const inGraph = (["auto", "always", "never"] as const).find((m) => m === values["in-graph"]) ?? "auto";
const log = (line: string) => process.stderr.write(`[bench:train] ${line}\n`);
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

async function backbone(): Promise<BackboneInput> {
  if (values.backbone === "demo") return demoBackboneInput();
  if (!values.backbone.endsWith(".onnx")) return describeExportedBackbone(values.backbone);
  return describeBackbone(values.backbone, { description: values.backbone });
}

function gpu(): string | undefined {
  try {
    return execFileSync("nvidia-smi", ["--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return undefined;
  }
}

/** `value` against a target: ratio > 1 means better than the target for throughput, worse for durations. */
const target = (value: number, goal: string | undefined, better: "higher" | "lower") =>
  goal === undefined
    ? undefined
    : {
        target: Number(goal),
        value: round(value, 1),
        ratio: round(value / Number(goal)),
        met: better === "higher" ? value >= Number(goal) : value <= Number(goal),
      };

const work = values.work ?? (await mkdtemp(join(tmpdir(), "roadwork-bench-train-")));
const result: Record<string, unknown> = {
  benchmark: "train",
  label: values.label ?? `${values.backbone}-${ep}`,
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    gpu: ep === "cuda" ? gpu() : undefined,
    loadAverage: loadavg().map((x) => round(x, 2)),
    node: process.version,
    uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? "4 (default)",
  },
  executionProvider: ep,
  backbone: values.backbone,
  batch,
  startedAt: new Date().toISOString(),
};
const targets: Record<string, unknown> = {};
/** Writes the JSON so far (after every part, so a run stopped at its time limit keeps what it measured). */
async function save(final = false): Promise<string> {
  result.targets = Object.fromEntries(Object.entries(targets).filter(([, v]) => v !== undefined));
  result.loadAverageAfter = loadavg().map((x) => round(x, 2));
  result[final ? "finishedAt" : "savedAt"] = new Date().toISOString();
  const json = `${JSON.stringify(result, null, 1)}\n`;
  if (values.out) {
    await mkdir(dirname(values.out), { recursive: true });
    await writeFile(values.out, json);
  }
  return json;
}
const throughputScenes = (n: number) => Math.max(40, Math.ceil(n / 8));
const pipelineDataset = () => generateDataset({ dir: join(work, "dataset"), count: images + add, concurrency });
if (values["generate-only"]) {
  // Scenes only (e.g. while the models are exported): a later run with the same --work finds them.
  await generateDataset({
    dir: join(work, "throughput"),
    count: throughputScenes(Number(values["throughput-images"])),
    concurrency,
  });
  if (!values["skip-pipeline"]) await pipelineDataset();
  log(`scenes generated in ${work}`);
  process.exit(0);
}
const b = await backbone();
result.backboneDescription = b.description;

// 1. Throughput: validator-format 224 views of procedural scenes, as training embeds them; per batch size.
const throughputImages = Number(values["throughput-images"]);
if (throughputImages > 0) {
  const n = throughputImages;
  const ds = await generateDataset({ dir: join(work, "throughput"), count: throughputScenes(n), concurrency });
  // The validators' 224×224 formats (jan crops, apr letterboxes), drawn on worker threads as training draws them.
  const tv = performance.now();
  const views = new ViewPool(viewWorkersFor(n));
  const jpegs = await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const r = ds.manifest.records[i % ds.manifest.records.length]!;
      const format = i % 2 ? "apr" : "jan";
      return views.size > 0
        ? views.render(recordPath(ds, r), format, `bench:${i}`)
        : challengeView(ds, r, `bench:${i}`, format);
    }),
  );
  const viewS = (performance.now() - tv) / 1000;
  const extractor = await EmbeddingExtractor.load(
    { model: b.model, preprocessing: b.preprocessing, output: b.output, token: b.token, inputName: b.inputName },
    { executionProvider: ep, preprocessInGraph: inGraph },
  );
  const batches = (values["throughput-batches"] ?? String(batch)).split(",").map(Number);
  // Decoded on the view workers straight into the shared batch buffers (this thread hands out row ranges and copies
  // each batch once into its tensor); no workers: the same rows written on this thread.
  const load = views.feed((i) => ({ bytes: jpegs[i]! }));
  const perBatch: Record<string, unknown>[] = [];
  for (const size of batches) {
    // Warm-up: the first runs of a shape pick kernels and allocate; then the measured pass over all n.
    await extractor.embed(Math.min(n, size * 3), load, { batchSize: size });
    const before = { ...extractor.stats };
    const elu = performance.eventLoopUtilization();
    const t = performance.now();
    const m = await extractor.embed(n, load, { batchSize: size });
    const s = (performance.now() - t) / 1000;
    // Share of the pass this JavaScript thread was busy (copies, promises, session calls): near 1 means it is the bound.
    const busy = performance.eventLoopUtilization(elu).utilization;
    const st = extractor.stats;
    const phase = (k: "prepareMs" | "waitMs" | "runMs" | "poolMs") => round(st[k] - before[k], 1);
    const runMs = phase("runMs");
    perBatch.push({
      batch: size,
      dim: m.cols,
      seconds: round(s),
      imagesPerSecond: round(n / s, 1),
      // The backbone alone (session runs back to back, no input wait): the ceiling of this model on this device.
      backboneImagesPerSecond: round((n / runMs) * 1000, 1),
      phasesMs: {
        prepare: phase("prepareMs"),
        wait: phase("waitMs"),
        run: runMs,
        pool: phase("poolMs"),
        batches: st.batches - before.batches,
      },
      mainThreadBusy: round(busy, 3),
    });
    log(
      `throughput: ${(n / s).toFixed(1)} img/s (${n} images, dim ${m.cols}, ${extractor.device} ${extractor.layout}, batch ${size}; run ${runMs} ms, wait ${phase("waitMs")} ms, main thread busy ${(busy * 100).toFixed(0)} %)`,
    );
  }
  await extractor.close();
  await views.close();
  const best = perBatch.reduce((a, r) => ((r.imagesPerSecond as number) > (a.imagesPerSecond as number) ? r : a));
  result.throughput = {
    images: n,
    device: extractor.device,
    layout: extractor.layout,
    ...best,
    byBatch: perBatch,
    viewGeneration: { views: n, seconds: round(viewS), viewsPerSecond: round(n / viewS, 1), workers: views.size },
    decode:
      views.size > 0
        ? `${views.size} view workers (backbonePixels) writing rows into shared batch buffers`
        : "this thread (backbonePixels into the batch buffers)",
  };
  targets.throughput = target(best.imagesPerSecond as number, values["target-throughput"], "higher");
  log(`views: ${(n / viewS).toFixed(0)}/s on ${views.size} worker(s)`);
  await save();
}

// 2 + 3. Dataset version → promoted bundle, then +M images on the cached N.
if (!values["skip-pipeline"]) {
  const dataDir = join(work, "data");
  // A clean store (a reused --work keeps its scenes, not an earlier run's caches): the first run starts cold.
  await rm(dataDir, { recursive: true, force: true });
  const runs: Record<string, unknown>[] = [];
  const ctx: PipelineContext = {
    store: new LocalDirStore(join(dataDir, "pipeline")),
    pointer: new LocalPointerStore(join(dataDir, "models", "current.json")),
    backbone: async () => b,
    executionProvider: ep,
    log: (event, data) => log(`  ${event} ${data ? JSON.stringify(data) : ""}`),
  };
  const tg = performance.now();
  const full = await pipelineDataset();
  const generateS = (performance.now() - tg) / 1000;
  // The first version: the first N scenes (what generateDataset(N) writes), beside the full one.
  const records = full.manifest.records.slice(0, images);
  const counts: DatasetManifest["counts"] = {};
  for (const split of ["train", "val", "test"] as const) {
    const rs = records.filter((r) => r.split === split);
    counts[split] = { total: rs.length, positive: rs.filter((r) => r.label === 1).length };
  }
  const first: DatasetManifest = {
    ...full.manifest,
    id: manifestId(records),
    name: `procedural-1-${images}`,
    ...(full.manifest.generator ? { generator: { ...full.manifest.generator, count: images } } : {}),
    counts,
    records,
  };
  await writeFile(join(work, "dataset", `manifest-${images}.json`), JSON.stringify(first));
  for (const [i, [count, file]] of (
    [
      [images, `manifest-${images}.json`],
      [images + add, "manifest.json"],
    ] as const
  ).entries()) {
    const runId = `bench-${i}`;
    const phases: Record<string, number> = {};
    const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      const r = await f();
      phases[name] = round((performance.now() - t) / 1000);
      return r;
    };
    const start = performance.now();
    const v = await timed("versionDataset", () =>
      versionDataset(
        {
          runId,
          dataset: { manifest: join(work, "dataset", file) },
          train: { head: DEMO_HEAD, batchSize: batch },
          gate: {},
        },
        ctx,
      ),
    );
    const trained = await timed("train", () => train(v.trainJob, ctx));
    const ev = await timed("evaluate", () => evaluate(v.evaluateJob, ctx));
    const decision = await timed("gate", () => gate({ runId }, ctx));
    // The bench promotes regardless of the decision, to time the promotion path too (the gate's answer is recorded).
    const promoted = await timed("promote", () => promote({ runId }, ctx));
    const totalS = (performance.now() - start) / 1000;
    runs.push({
      images: count,
      ...(i === 0 ? { generateSeconds: round(generateS) } : {}),
      totalSeconds: round(totalS),
      phasesSeconds: phases,
      trainDurationsMs: trained.durationsMs,
      cache: trained.cache,
      head: trained.head,
      test: trained.test,
      evaluationItems: ev.items,
      // What the evaluation took from earlier runs: rendered items, and each model's scores on items it had scored.
      evaluation: { renders: ev.renders, scored: ev.scored },
      gate: {
        decision: decision.decision,
        challenger: decision.challenger,
        champion: decision.champion,
        gain: decision.gain,
      },
      promoted: promoted.version,
    });
    targets[i === 0 ? "first" : "added"] = target(
      totalS,
      values[i === 0 ? "target-first-s" : "target-added-s"],
      "lower",
    );
    log(`run ${i}: ${count} images → ${promoted.version} in ${totalS.toFixed(1)} s (${JSON.stringify(phases)})`);
    if (i === 0) await ensureLocalPointer(dataDir);
    result.pipeline = { first: runs[0], added: runs[1] };
    await save();
  }
}
process.stdout.write(await save(true));
if (!values.work) await rm(work, { recursive: true, force: true });
