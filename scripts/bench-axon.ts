// End-to-end axon benchmark: `roadwork serve` runs in its own process with a real ONNX model; this process plays
// several validators sending signed ImageSynapse requests (224x224 q75 JPEGs) at concurrency 1 and 16, and prints
// JSON with p50/p99 latency and requests/s. Progress goes to stderr.
//
//   npm run bench:axon [-- --model <file.onnx|bundle dir>] [--requests 400] [--max-concurrent 4]
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, freemem, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Keyring } from "@polkadot/keyring";
import { type Dendrite, ensureCryptoReady } from "@roadwork/protocol";
import sharp from "sharp";
import { dendriteOf, writeSnapshot } from "../bench/lib/identities.ts";
import { uniqueJpeg } from "../bench/lib/images.ts";
import { benchModel, type RoadworkServe, startRoadworkServe } from "../bench/lib/servers.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    requests: { type: "string", default: "400" },
    "max-concurrent": { type: "string", default: "4" },
    images: { type: "string", default: "48" },
  },
});
const REQUESTS = Number(values.requests);
const MAX_CONCURRENT = Number(values["max-concurrent"]);
const IMAGE_COUNT = Number(values.images);
const CONCURRENCY = [1, 16];
const VALIDATORS = 4;
const log = (message: string) => process.stderr.write(`bench-axon: ${message}\n`);

const dir = await mkdtemp(join(tmpdir(), "roadwork-bench-axon-"));
let server: RoadworkServe | undefined;
try {
  await ensureCryptoReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const axonKey = keyring.addFromUri("//Bob");
  const validators = Array.from({ length: VALIDATORS }, (_, i) =>
    keyring.addFromUri(i === 0 ? "//Alice" : `//Validator${i}`),
  );

  const model = await benchModel(dir, values.model);
  const snapshotPath = join(dir, "snapshot.json");
  await writeSnapshot(snapshotPath, [
    // Equal stakes: the stake-ordered queue would otherwise serve the richest validator first under overload,
    // and the figures would measure that policy rather than the serving path.
    ...validators.map((v, uid) => ({ uid, hotkey: v.address, stake: 1000, validatorPermit: true })),
    { uid: VALIDATORS, hotkey: axonKey.address, stake: 1, validatorPermit: false },
  ]);
  const axonConfig = {
    queue: { maxConcurrent: MAX_CONCURRENT, maxQueued: 256 },
    // The benchmark measures the serving path, not the per-validator limiter.
    rateLimit: { burst: 1_000_000, refillPerSecond: 1_000_000 },
  };
  const configPath = join(dir, "axon.json");
  await writeFile(configPath, JSON.stringify(axonConfig));

  log(`generating ${IMAGE_COUNT} street-scene JPEGs (224x224, quality 75)`);
  const images = await Promise.all(Array.from({ length: IMAGE_COUNT }, (_, i) => sceneJpeg(i)));
  const meanImageBytes = Math.round(images.reduce((a, b) => a + b.byteLength, 0) / images.length);

  log("starting roadwork serve");
  server = await startRoadworkServe({
    model: model.path,
    metagraph: snapshotPath,
    args: ["--config", configPath, "--host", "127.0.0.1", "--port", "0", "--admin-port", "0", "--log-level", "warn"],
    hotkeyMnemonic: "//Bob",
  });
  const { ip, port, modelVersion } = server;
  const target = { ip, port, hotkey: axonKey.address };
  log(`axon ready on ${ip}:${port}, model ${modelVersion}`);

  // One Dendrite (uuid) per worker, each sending in sequence, as validators do: the axon requires nonces to
  // increase per hotkey:uuid, so concurrent requests from ONE dendrite could arrive out of order and get 401.
  const dendriteFor = (worker: number) => dendriteOf(validators[worker % validators.length]!);
  let sequence = 0;
  /** One signed request, timed from signing to the parsed answer. Each carries unique bytes (see uniqueJpeg). */
  const one = async (dendrite: Dendrite) => {
    const n = sequence++;
    const image = uniqueJpeg(images[n % images.length]!, n);
    const started = performance.now();
    const res = await dendrite.query(dendrite.buildRequest({ axon: target, image, timeout: 9 }));
    // The axon's own time (arrival to answer), from its bt_header_axon_process_time header.
    const serverMs = Number(res.headers.bt_header_axon_process_time ?? Number.NaN) * 1000;
    return { ms: performance.now() - started, serverMs, status: res.status };
  };

  log("warming up (32 requests)");
  const warm = dendriteFor(0);
  for (let i = 0; i < 32; i++) await one(warm);
  const loadAverage1m = round(loadavg()[0]!);

  const results = [];
  for (const concurrency of CONCURRENCY) {
    const total = concurrency === 1 ? Math.max(50, Math.floor(REQUESTS / 4)) : REQUESTS;
    const latencies: number[] = [];
    const serverLatencies: number[] = [];
    const statuses: Record<string, number> = {};
    let issued = 0;
    let done = 0;
    const started = performance.now();
    const worker = async (w: number) => {
      const dendrite = dendriteFor(w);
      while (issued < total) {
        issued++;
        const r = await one(dendrite);
        latencies.push(r.ms);
        if (Number.isFinite(r.serverMs)) serverLatencies.push(r.serverMs);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (++done % Math.max(1, Math.floor(total / 5)) === 0) log(`concurrency ${concurrency}: ${done}/${total}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    serverLatencies.sort((a, b) => a - b);
    const quantile = (xs: number[], p: number) =>
      round(xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? Number.NaN);
    const q = (p: number) => quantile(latencies, p);
    results.push({
      concurrency,
      requests: total,
      statuses,
      p50Ms: q(0.5),
      p99Ms: q(0.99),
      meanMs: round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
      maxMs: round(latencies.at(-1)!),
      serverP50Ms: quantile(serverLatencies, 0.5),
      serverP99Ms: quantile(serverLatencies, 0.99),
      requestsPerS: round(total / seconds),
    });
  }

  const cpu = cpus();
  const base = results[0]!;
  const high = results[1]!;
  console.log(
    JSON.stringify(
      {
        benchmark: "axon end-to-end: signed ImageSynapse over HTTP to `roadwork serve` on loopback",
        machine: {
          cpuModel: cpu[0]?.model ?? "unknown",
          cores: cpu.length,
          memoryGiB: round(totalmem() / 2 ** 30),
          freeMemoryGiB: round(freemem() / 2 ** 30),
          platform: `${process.platform}-${process.arch}`,
          node: process.version,
          loadAverage1mAtStart: loadAverage1m,
        },
        model: { version: modelVersion, description: model.description, executionProvider: "auto (CPU here)" },
        axon: { ...axonConfig, process: "separate (roadwork serve)" },
        load: {
          validators: `${VALIDATORS}, equal stake`,
          images: `${IMAGE_COUNT} synthetic street scenes, 224x224 JPEG q75, mean ${meanImageBytes} bytes`,
          cache: "every request carries distinct bytes (a JPEG comment with its number): the result cache never hits",
          latency:
            "p50Ms/p99Ms: from signing the request to the parsed response (client side); serverP50Ms/serverP99Ms: the axon's bt_header_axon_process_time",
          dendrites: "one per concurrent worker (its own uuid), requests in sequence per dendrite, as validators send",
        },
        results,
        ratios: {
          throughputC16OverC1: round(high.requestsPerS / base.requestsPerS),
          p50C16OverC1: round(high.p50Ms / base.p50Ms),
        },
      },
      null,
      2,
    ),
  );
} finally {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

/** A street-like scene (sky, road, noise, and orange work-zone blobs on even seeds), encoded like validators do. */
async function sceneJpeg(seed: number): Promise<Uint8Array> {
  const size = 224;
  let s = (seed + 1) * 2654435761;
  const rand = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const px = Buffer.alloc(size * size * 3);
  const horizon = Math.floor(size * (0.35 + rand() * 0.2));
  const blobs =
    seed % 2 === 0
      ? Array.from({ length: 3 + Math.floor(rand() * 4) }, () => ({
          x: rand() * size,
          y: horizon + rand() * (size - horizon),
          r: 6 + rand() * 18,
        }))
      : [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const n = (rand() - 0.5) * 30;
      let rgb = y < horizon ? [110 + n, 150 + n, 210 + n] : [90 + n + (y - horizon) * 0.2, 90 + n, 95 + n];
      for (const b of blobs) if ((x - b.x) ** 2 + (y - b.y) ** 2 < b.r ** 2) rgb = [240 + n / 3, 120 + n, 20];
      const i = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) px[i + c] = Math.max(0, Math.min(255, Math.round(rgb[c]!)));
    }
  }
  return new Uint8Array(
    await sharp(px, { raw: { width: size, height: size, channels: 3 } })
      .jpeg({ quality: 75 })
      .toBuffer(),
  );
}
