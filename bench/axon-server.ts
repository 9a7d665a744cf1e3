// The axon as the benchmark runs it: the real @roadwork/miner app and listener over the real @roadwork/inference
// scorer, composed here so the driver can set what a benchmark must control (the bundle, the execution provider, the
// port, a result cache that would otherwise answer repeated images for free). Run as its own process so the driver
// can read its RSS and time its start.
//
//   node --import tsx bench/axon-server.ts --model DIR --port N --hotkey SS58 --metagraph FILE [--ep auto|cuda|cpu]
//
// --hotkey may be a comma list: one axon per hotkey on ports N, N+1, … over one shared scorer (bench/hotkeys.ts).
import { parseArgs } from "node:util";
import { MetagraphSnapshot } from "@roadwork/chain/snapshot";
import { type ExecutionProviderChoice, loadScorer } from "@roadwork/inference";
import { createJsonLogger, SwappableMetagraph, startHotkeyFleet } from "@roadwork/miner";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    hotkey: { type: "string" },
    metagraph: { type: "string" },
    ep: { type: "string", default: "auto" },
    "max-batch": { type: "string", default: "8" },
    "max-wait-ms": { type: "string", default: "0" },
    /** auto ([1, max-batch] on CUDA), off, or a comma list of batch sizes. */
    "batch-buckets": { type: "string", default: "auto" },
    /** Signature checks: pool (the axon's default), inline, or auto (inline when the model runs on the CPU). */
    verify: { type: "string", default: "pool" },
    "max-concurrent": { type: "string", default: "16" },
    /** onnxruntime intra-op threads (0: one per core). */
    threads: { type: "string", default: "0" },
    /** The head sessions' intra-op threads (the engine's default: 1, on the calling thread). */
    "head-threads": { type: "string", default: "1" },
    /** Entries in the image-hash result cache (0: off, as the driver repeats images validators never repeat). */
    "cache-size": { type: "string", default: "0" },
  },
});

function required(name: "model" | "port" | "hotkey" | "metagraph"): string {
  const value = values[name];
  if (!value) throw new Error(`--${name} is required`);
  return value;
}

const ep = values.ep as ExecutionProviderChoice;
if (!["auto", "cuda", "cpu"].includes(ep)) throw new Error(`--ep must be auto, cuda or cpu, not ${values.ep}`);

const buckets = values["batch-buckets"];
const batchBuckets =
  buckets === "auto" || buckets === "off" ? buckets : (buckets ?? "auto").split(",").map((b) => Number(b));
const verify = values.verify;
if (verify !== "auto" && verify !== "pool" && verify !== "inline")
  throw new Error(`--verify must be auto, pool or inline, not ${verify}`);

const logger = createJsonLogger({ level: "warn", base: { component: "bench-axon" } });
const scorer = await loadScorer({
  model: required("model"),
  executionProvider: ep,
  maxBatch: Number(values["max-batch"]),
  maxWaitMs: Number(values["max-wait-ms"]),
  batchBuckets,
  // The driver repeats a fixed set of images; validators never do (every challenge is freshly augmented).
  cacheSize: Number(values["cache-size"]),
  intraOpNumThreads: Number(values.threads),
  headIntraOpNumThreads: Number(values["head-threads"]),
  // onnxruntime's thread behaviour, for trying it without a rebuild (BENCH_ORT_SPINNING=0, BENCH_ORT_DYNAMIC_BLOCK=4).
  ...(process.env.BENCH_ORT_SPINNING ? { allowSpinning: process.env.BENCH_ORT_SPINNING !== "0" } : {}),
  ...(process.env.BENCH_ORT_DYNAMIC_BLOCK ? { dynamicBlockBase: Number(process.env.BENCH_ORT_DYNAMIC_BLOCK) } : {}),
  logger: { info: (m, f) => logger.warn(m, f), warn: (m, f) => logger.warn(m, f) },
});
const metagraph = new SwappableMetagraph(await MetagraphSnapshot.load(required("metagraph")));
const hotkeys = required("hotkey").split(",").filter(Boolean);
const basePort = Number(required("port"));
const fleet = await startHotkeyFleet({
  members: hotkeys.map((address, i) => ({ hotkey: { address }, port: basePort === 0 ? 0 : basePort + i })),
  scorer,
  metagraph,
  logger,
  config: {
    host: values.host,
    // The driver floods from a handful of validator hotkeys; the baseline has no rate limit either.
    rateLimit: { burst: 1_000_000, refillPerSecond: 1_000_000 },
    queue: { maxConcurrent: Number(values["max-concurrent"]), maxQueued: 1024 },
    signatureVerification: verify,
  },
});
const running = fleet.axons[0]!.running;
// One machine-readable line for the driver: where inference really runs (CUDA can fall back to CPU).
process.stderr.write(
  `BENCH_AXON ${JSON.stringify({
    modelVersion: scorer.modelVersion,
    url: running.url,
    device: scorer.device,
    fallbackReason: scorer.fallbackReason ?? null,
    probeLatencyMs: scorer.probeLatencyMs,
    batchBuckets: scorer.batchBuckets,
    verification: fleet.axons[0]!.axon.verification,
    hotkeys: fleet.axons.length,
    ports: fleet.axons.map((a) => a.running.port),
  })}\n`,
);

const stop = async () => {
  await fleet.close(1_000);
  await scorer.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
