// `npm run bench:train`: how long the retraining flywheel takes, as JSON.
//   1. embedding throughput (images/s) of a backbone through the trainer's EmbeddingExtractor (decode + preprocess +
//      onnxruntime), on CPU or CUDA, fp32 or fp16;
//   2. dataset version → promoted bundle: the pipeline's own steps (version, train with the embedding cache,
//      evaluate challenger and champion on the frozen set, gate, promote) on N procedural images;
//   3. the same after adding M images to the cached N (only the new images are embedded).
// Scene rendering happens before the clock starts (it stands in for images already in S3).
//
//   node --import tsx scripts/bench-train.ts [--images 400] [--add 40] [--backbone demo|<backbone.onnx>]
//        [--ep cpu|cuda] [--batch 32] [--throughput-images 256] [--skip-pipeline] [--label <name>] [--out <file.json>]

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { generateDataset } from "@roadwork/data";
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
  EmbeddingExtractor,
} from "@roadwork/training";

const { values } = parseArgs({
  options: {
    images: { type: "string", default: "400" },
    add: { type: "string", default: "40" },
    backbone: { type: "string", default: "demo" },
    ep: { type: "string", default: "cpu" },
    batch: { type: "string", default: "32" },
    "throughput-images": { type: "string", default: "256" },
    "skip-pipeline": { type: "boolean", default: false },
    label: { type: "string" },
    out: { type: "string" },
    work: { type: "string" },
  },
});
const ep = values.ep === "cuda" ? "cuda" : "cpu";
const batch = Number(values.batch);
const images = Number(values.images);
const add = Number(values.add);
const log = (line: string) => process.stderr.write(`[bench:train] ${line}\n`);

async function backbone(): Promise<BackboneInput> {
  if (values.backbone === "demo") return demoBackboneInput();
  return describeBackbone(values.backbone, { description: values.backbone });
}

const work = values.work ?? (await mkdtemp(join(tmpdir(), "roadwork-bench-train-")));
const result: Record<string, unknown> = {
  benchmark: "train",
  label: values.label ?? `${values.backbone}-${ep}`,
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
  executionProvider: ep,
  backbone: values.backbone,
  batch,
  startedAt: new Date().toISOString(),
};

// 1. Throughput: validator-augmented 224 views of procedural scenes, as training embeds them.
{
  const n = Number(values["throughput-images"]);
  const ds = await generateDataset({ dir: join(work, "throughput"), count: Math.max(40, Math.ceil(n / 4)) });
  const jpegs = await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const r = ds.manifest.records[i % ds.manifest.records.length]!;
      return challengeView(ds, r, `bench:${i}`);
    }),
  );
  const b = await backbone();
  const extractor = await EmbeddingExtractor.load(
    { model: b.model, preprocessing: b.preprocessing, output: b.output, token: b.token },
    { executionProvider: ep },
  );
  await extractor.embed(Math.min(n, batch * 2), async (i) => jpegs[i]!, { batchSize: batch }); // warm-up
  const t = performance.now();
  const m = await extractor.embed(n, async (i) => jpegs[i]!, { batchSize: batch });
  const s = (performance.now() - t) / 1000;
  await extractor.close();
  result.throughput = { images: n, dim: m.cols, seconds: s, imagesPerSecond: n / s };
  log(`throughput: ${(n / s).toFixed(1)} img/s (${n} images, dim ${m.cols}, ${ep}, batch ${batch})`);
}

// 2 + 3. Dataset version → promoted bundle, then +M images on the cached N.
if (!values["skip-pipeline"]) {
  const dataDir = join(work, "data");
  const runs: Record<string, unknown>[] = [];
  const b = await backbone();
  const ctx: PipelineContext = {
    store: new LocalDirStore(join(dataDir, "pipeline")),
    pointer: new LocalPointerStore(join(dataDir, "models", "current.json")),
    backbone: async () => b,
    executionProvider: ep,
    log: (event, data) => log(`  ${event} ${data ? JSON.stringify(data) : ""}`),
  };
  for (const [i, count] of [images, images + add].entries()) {
    const t0 = performance.now();
    await generateDataset({ dir: join(work, `dataset-${count}`), count });
    const generateS = (performance.now() - t0) / 1000;
    const runId = `bench-${i}`;
    const phases: Record<string, number> = {};
    const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      const r = await f();
      phases[name] = (performance.now() - t) / 1000;
      return r;
    };
    const start = performance.now();
    const v = await timed("versionDataset", () =>
      versionDataset(
        {
          runId,
          dataset: { manifest: join(work, `dataset-${count}`, "manifest.json") },
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
      generateSeconds: generateS,
      totalSeconds: totalS,
      phasesSeconds: phases,
      trainDurationsMs: trained.durationsMs,
      cache: trained.cache,
      test: trained.test,
      evaluationItems: ev.items,
      gate: {
        decision: decision.decision,
        challenger: decision.challenger,
        champion: decision.champion,
        gain: decision.gain,
      },
      promoted: promoted.version,
    });
    log(`run ${i}: ${count} images → ${promoted.version} in ${totalS.toFixed(1)} s (${JSON.stringify(phases)})`);
    if (i === 0) await ensureLocalPointer(dataDir);
  }
  result.pipeline = { first: runs[0], added: runs[1] };
}
result.finishedAt = new Date().toISOString();
const json = `${JSON.stringify(result, null, 1)}\n`;
if (values.out) {
  await mkdir(dirname(values.out), { recursive: true });
  await writeFile(values.out, json);
}
process.stdout.write(json);
if (!values.work) await rm(work, { recursive: true, force: true });
