// Micro-batching benchmark: the same concurrent load scored with maxBatch 1 (baseline) and larger batches.
// Prints JSON (machine, model, per-setting throughput and latency percentiles, ratio vs the baseline).
//   node --import tsx packages/inference/bench/batching.ts [--model <source>] [--requests 256] [--concurrency 16]
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { loadScorer, silentLogger, writeTinyClassifier } from "../src/index.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    requests: { type: "string", default: "256" },
    concurrency: { type: "string", default: "16" },
    batches: { type: "string", default: "1,4,8,16" },
    threads: { type: "string", default: "0" },
  },
});
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);

let model = values.model;
if (!model) {
  model = join(tmpdir(), "roadwork-bench-tiny.onnx");
  await writeTinyClassifier(model, { seed: 1 });
}

// Distinct validator-like images (224×224 JPEG q75) so the cache never answers.
const images = await Promise.all(
  Array.from({ length: requests }, (_, i) => {
    const raw = Buffer.alloc(224 * 224 * 3);
    for (let p = 0; p < 224 * 224; p++) raw.set([(p * 7 + i * 13) % 256, (p >> 8) % 256, (i * 29) % 256], p * 3);
    return sharp(raw, { raw: { width: 224, height: 224, channels: 3 } })
      .jpeg({ quality: 75 })
      .toBuffer();
  }),
);

const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const results = [];
for (const maxBatch of (values.batches ?? "1").split(",").map(Number)) {
  const scorer = await loadScorer({
    model,
    maxBatch,
    maxWaitMs: 2,
    cacheSize: 0,
    logger: silentLogger,
    intraOpNumThreads: Number(values.threads),
  });
  process.stderr.write(`maxBatch ${maxBatch}: ${requests} requests at concurrency ${concurrency}…\n`);
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < images.length) {
        const img = images[next++] as Buffer;
        const t = performance.now();
        await scorer.score(img);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  results.push({
    maxBatch,
    imagesPerSecond: requests / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    meanBatch: scorer.stats.batchedImages / Math.max(1, scorer.stats.batches),
    device: scorer.device,
  });
  await scorer.close();
}
const baseline = results[0]?.imagesPerSecond ?? 1;
console.log(
  JSON.stringify(
    {
      benchmark: "inference micro-batching",
      machine: { cpu: cpus()[0]?.model, cores: cpus().length, platform: process.platform, node: process.version },
      model,
      requests,
      concurrency,
      results: results.map((r) => ({ ...r, throughputVsBatch1: r.imagesPerSecond / baseline })),
    },
    null,
    2,
  ),
);
