// JPEG decode side by side: sharp (libvips on the libuv pool) against the synchronous WebAssembly libjpeg-turbo, on
// the validators' 224×224 q75 images. Prints JSON:
//   oneThread     decodeImage back to back on this thread (ms per decode)
//   mainThread    the axon's shape: `concurrency` requests in flight on the main thread, each decode → float
//                 preprocessing (the main thread's own work) → a 5 ms timer standing in for the GPU; req/s and latency
//                 for sharp, wasm and auto (auto leaves JPEGs to sharp while the loop is busy)
//   viewWorkers   the trainer's path: ViewPool workers decoding into DINOv2's pixels (backbonePixels: decode, resize
//                 to 256, crop 224), 4 requests per worker in flight; images/s in total
//
//   node --import tsx bench/decode.ts [--seconds 3] [--workers 1,2,4] [--concurrency 1,16]
// Run it alone (flock /work/bench.lock) and set UV_THREADPOOL_SIZE as the trainer does (16 on the GPU host).
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import {
  decodeImage,
  type JpegDecoderChoice,
  jpegFastPathStats,
  type Preprocessing,
  parsePreprocessing,
  preprocess,
} from "@roadwork/inference";
import { ViewPool } from "@roadwork/training";
import { challengeImages } from "./lib/images.ts";
import { describeMachine } from "./lib/machine.ts";
import { summarize } from "./lib/stats.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    workers: { type: "string", default: "1,2,4" },
    concurrency: { type: "string", default: "1,16" },
  },
});
const seconds = Number(values.seconds);
const list = (s: string) => s.split(",").map(Number);
const images = await challengeImages(32);
const dinov2: Preprocessing = parsePreprocessing({
  image_processor_type: "BitImageProcessor",
  size: { shortest_edge: 256 },
  resample: 3,
  do_center_crop: true,
  crop_size: { height: 224, width: 224 },
});
const spec = parsePreprocessing({});
const decoders = ["sharp", "wasm"] as const;

async function oneThread(jpegDecoder: JpegDecoderChoice) {
  const ms: number[] = [];
  const until = performance.now() + seconds * 1000;
  for (let i = 0; performance.now() < until; i++) {
    const t = performance.now();
    await decodeImage(images[i % images.length]!, { jpegDecoder });
    ms.push(performance.now() - t);
  }
  return summarize(ms.slice(20));
}

async function mainThread(jpegDecoder: JpegDecoderChoice, concurrency: number) {
  const ms: number[] = [];
  const until = performance.now() + seconds * 1000;
  let next = 0;
  const loop = async () => {
    while (performance.now() < until) {
      const t = performance.now();
      const rgb = await decodeImage(images[next++ % images.length]!, { jpegDecoder });
      preprocess(rgb, spec);
      await new Promise((resolve) => setTimeout(resolve, 5));
      ms.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { requestsPerSecond: Math.round(ms.length / ((performance.now() - t0) / 1000)), latencyMs: summarize(ms) };
}

async function viewWorkers(jpegDecoder: JpegDecoderChoice, workers: number) {
  // Workers read ROADWORK_JPEG_DECODER when they start (the trainer's workers get it from the environment too).
  process.env.ROADWORK_JPEG_DECODER = jpegDecoder;
  const pool = new ViewPool(workers);
  try {
    for (let i = 0; i < workers * 8; i++) await pool.decode(images[i % images.length]!, dinov2); // warm up
    let done = 0;
    let next = 0;
    const t0 = performance.now();
    const until = t0 + seconds * 1000;
    const loop = async () => {
      while (performance.now() < until) {
        await pool.decode(images[next++ % images.length]!, dinov2);
        done++;
      }
    };
    await Promise.all(Array.from({ length: workers * 4 }, loop));
    return Math.round(done / ((performance.now() - t0) / 1000));
  } finally {
    await pool.close();
  }
}

const load1m = () => +loadavg()[0]!.toFixed(2);
const loadBefore = load1m();
const result = {
  oneThread: {} as Record<string, unknown>,
  mainThread: {} as Record<string, unknown>,
  viewWorkersImagesPerSecond: {} as Record<string, unknown>,
};
for (const d of decoders) result.oneThread[d] = await oneThread(d);
for (const c of list(values.concurrency)) {
  for (const d of ["sharp", "wasm", "auto"] as const) result.mainThread[`${d}@${c}`] = await mainThread(d, c);
}
for (const w of list(values.workers)) {
  for (const d of decoders) result.viewWorkersImagesPerSecond[`${d}@${w}`] = await viewWorkers(d, w);
}
const machine = describeMachine();
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: "JPEG decode, sharp vs WebAssembly libjpeg-turbo (224x224 q75 challenge images)",
      machine: `${machine.cpuModel}, ${machine.cores} cores`,
      uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? "4 (default)",
      loadAverage1m: { before: loadBefore, after: load1m() },
      seconds,
      ...result,
      fastPathOnThisThread: jpegFastPathStats(),
    },
    null,
    2,
  )}\n`,
);
