// Benchmark driver: the TypeScript axon against a natix-style Python miner, same model weights, same signed requests,
// one run. Exports the models (bench/baseline/export.py), starts both servers, measures each at every concurrency in
// alternating blocks after a warm-up, and prints one JSON document on stdout (progress goes to stderr). Also writes
// <out>/<label>.json and a latency histogram <out>/<label>.svg.
//
//   node --import tsx bench/driver.ts --python bench/.venv/bin/python [--models dinov2-s14-reg] [--device cpu] ...
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { AxonTarget } from "@roadwork/protocol";
import { renderHistogramSvg } from "./lib/histogram.ts";
import { benchIdentities, writeMetagraph } from "./lib/identities.ts";
import { challengeImages } from "./lib/images.ts";
import { answered, dendrites, runBlock, type Sample } from "./lib/load.ts";
import { describeMachine, gpuMemoryByPid } from "./lib/machine.ts";
import { freePort, type Memory, ServerProcess } from "./lib/servers.ts";
import { type LatencySummary, summarize } from "./lib/stats.ts";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(BENCH_DIR, "..");

export interface BenchOptions {
  python: string;
  models: string[];
  hflip: boolean;
  /** Export fp16-compute backbones and run a second axon on them (GPU only). */
  fp16: boolean;
  device: "cpu" | "cuda";
  requests: number;
  warmup: number;
  concurrency: number[];
  rounds: number;
  images: number;
  validators: number;
  outDir: string;
  label: string;
  workDir: string;
  axonEntry: string;
  startTimeoutMs: number;
  /** Run the servers under `taskset -c <list>` (the driver stays off those cores); "" runs them unpinned. */
  pinCpus: string;
  /** Inference threads for both servers (0: each framework's default, one per core). */
  threads: number;
  /** p99(ours)/p99(python) limits by concurrency, e.g. {1: 0.5, 16: 0.33}. */
  targetP99Ratio: Record<string, number>;
  /** Absolute p99 limit (ms) for our axon at concurrency 1. */
  targetP99Ms: number | undefined;
  /** Also run an int8 (dynamic quantization) copy of the bundle, checked on held-out images first. */
  int8: boolean;
  /** Held-out images for the int8 agreement check. */
  heldoutImages: number;
  /** Native-resolution series beside the 224×224 one, e.g. ["1920x1080", "1024x1024"] (JPEG q75). */
  frames: string[];
  /** Concurrency levels of the native-resolution series. */
  frameConcurrency: number[];
  /** p99 limits for the int8 server: ratio to python by concurrency. */
  targetInt8P99Ratio: Record<string, number>;
  /** Stop (SIGSTOP) every server but the one being measured, so idle ones cannot take its cores. */
  pauseIdle: boolean;
  /** More axons to measure beside "ours": the same bundle (or its int8 copy) under other settings. */
  variants: AxonVariant[];
  /** node's own flags for every axon (what the container's CMD passes), unless a variant names its own. */
  axonNodeFlags: string[];
}

/**
 * One more axon configuration, from `--variant 'name|bundle|node flags|axon flags|ENV=value ...'` (bundle: fp32 or
 * int8; the other fields space-separated, any may be empty; empty node flags inherit --axon-node-flags, "none" runs
 * node without any). Measured as role `ours-<name>`.
 */
export interface AxonVariant {
  name: string;
  bundle: "fp32" | "int8";
  /** undefined: --axon-node-flags. */
  nodeFlags: string[] | undefined;
  axonArgs: string[];
  env: Record<string, string>;
}

export function parseVariant(text: string): AxonVariant {
  const [name, bundle, nodeFlags = "", axonArgs = "", env = "", ...rest] = text.split("|");
  if (!name || !/^[a-z0-9-]+$/.test(name) || rest.length > 0)
    throw new Error(`bad --variant '${text}': want 'name|fp32 or int8|node flags|axon flags|ENV=value ...'`);
  if (bundle !== "fp32" && bundle !== "int8") throw new Error(`--variant ${name}: bundle must be fp32 or int8`);
  const words = (x: string) => x.split(" ").filter(Boolean);
  const vars: Record<string, string> = {};
  for (const pair of words(env)) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`--variant ${name}: '${pair}' is not ENV=value`);
    vars[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const node = nodeFlags.trim() === "" ? undefined : nodeFlags.trim() === "none" ? [] : words(nodeFlags);
  return { name, bundle, nodeFlags: node, axonArgs: words(axonArgs), env: vars };
}

export const PYTHON_DEPENDENCIES = [
  "torch",
  "transformers",
  "starlette",
  "uvicorn",
  "PIL",
  "numpy",
  "onnx",
  "onnxruntime",
];

/** Held-out images for the int8 check: another seed than the benchmark's, never sent to the servers. */
const HELDOUT_SEED = 2;

/** Quantizes the exported bundle (bench/baseline/quantize.py) and measures int8 vs fp32 on held-out images. */
async function quantizeBundle(o: BenchOptions): Promise<{ dir: string; report: Record<string, unknown> }> {
  const dir = join(o.workDir, "int8");
  const heldout = join(o.workDir, "heldout");
  mkdirSync(heldout, { recursive: true });
  const images = await challengeImages(o.heldoutImages, HELDOUT_SEED);
  for (const [i, jpeg] of images.entries()) writeFileSync(join(heldout, `${String(i).padStart(4, "0")}.jpg`), jpeg);
  process.stderr.write(`[bench] int8: quantizing ${o.workDir} and checking ${images.length} held-out images\n`);
  const run = spawnSync(
    o.python,
    [
      join(BENCH_DIR, "baseline", "quantize.py"),
      "--bundle",
      o.workDir,
      "--out",
      dir,
      "--heldout",
      heldout,
      "--limit",
      String(o.heldoutImages),
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 },
  );
  if (run.status !== 0) throw new Error(`int8 quantization failed (exit ${run.status}); see the output above`);
  return { dir, report: JSON.parse(run.stdout) };
}

/** "1920x1080" → { width, height }. */
function frameSize(text: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(text);
  if (!m) throw new Error(`--frames entries look like 1920x1080, not '${text}'`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** Fails fast, with what to do, when the Python side cannot run. */
export function checkPython(python: string): Record<string, string> {
  const probe = spawnSync(
    python,
    [
      "-c",
      `import json, importlib\nmods = ${JSON.stringify(PYTHON_DEPENDENCIES)}\n` +
        "print(json.dumps({m: getattr(importlib.import_module(m), '__version__', '?') for m in mods}))",
    ],
    { encoding: "utf8" },
  );
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : (probe.stderr.trim().split("\n").pop() ?? "");
    throw new Error(
      `the Python baseline needs ${python} with ${PYTHON_DEPENDENCIES.join(", ")} (${why}).\n` +
        "Create it with:\n  python3 -m venv bench/.venv && bench/.venv/bin/pip install torch transformers fastapi uvicorn pillow numpy onnx onnxruntime\n" +
        "or point BENCH_PYTHON at a Python that has them. See bench/README.md.",
    );
  }
  return JSON.parse(probe.stdout.trim().split("\n").pop() ?? "{}");
}

interface ExportSpec {
  members: { arch: string; description: string; params: number; check: Record<string, number> }[];
  hflip: boolean;
  weights: string;
  torch: string;
  onnxruntime: string;
}

function exportModels(o: BenchOptions): ExportSpec {
  const key = JSON.stringify({ models: o.models, hflip: o.hflip, fp16: o.fp16, device: o.device });
  const keyFile = join(o.workDir, "export-key.json");
  const specFile = join(o.workDir, "baseline.json");
  if (existsSync(specFile) && existsSync(keyFile) && readFileSync(keyFile, "utf8") === key) {
    process.stderr.write(`[bench] reusing models exported in ${o.workDir}\n`);
    return JSON.parse(readFileSync(specFile, "utf8"));
  }
  mkdirSync(o.workDir, { recursive: true });
  process.stderr.write(`[bench] exporting ${o.models.join(" + ")} (random weights) to ${o.workDir}\n`);
  const args = [join(BENCH_DIR, "baseline", "export.py"), "--out", o.workDir, "--models", o.models.join(",")];
  if (o.hflip) args.push("--hflip");
  if (o.fp16) args.push("--fp16");
  args.push("--device", o.device);
  const run = spawnSync(o.python, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`model export failed (exit ${run.status}); see the output above`);
  writeFileSync(keyFile, key);
  return JSON.parse(readFileSync(specFile, "utf8"));
}

interface ServerResult {
  latencyMs: LatencySummary;
  reqPerSec: number;
  errors: number;
  abandoned?: string;
}

interface ServerReport {
  role: string;
  description: string;
  device: string;
  startToFirstAnswerMs: number;
  memoryAfterStart: Memory;
  memoryAfterLoad: Memory;
  gpuMemoryMiB: number | null;
  byConcurrency: Record<string, ServerResult>;
}

/** Servers still running, so an interrupted run (Ctrl-C, a timeout's SIGTERM) leaves none behind. */
const live = new Set<ServerProcess>();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const server of live) server.child.kill("SIGKILL");
    process.exit(130);
  });
}

export async function runBenchmark(o: BenchOptions): Promise<Record<string, unknown>> {
  const pythonVersions = checkPython(o.python);
  const spec = exportModels(o);
  const ids = await benchIdentities(o.validators);
  const metagraphFile = join(o.workDir, "metagraph.json");
  await writeMetagraph(metagraphFile, ids);
  const images = (await challengeImages(o.images)).map((jpeg) => Buffer.from(jpeg).toString("base64"));
  const meanKb = images.reduce((a, b) => a + b.length, 0) / images.length / 1024;
  process.stderr.write(
    `[bench] ${images.length} challenge JPEGs, ${meanKb.toFixed(1)} KiB of base64 each on average\n`,
  );
  // The series: validator crops (224×224) at every concurrency, native-resolution frames at theirs.
  const series: { name: string; images: string[]; concurrency: number[]; meanKb: number }[] = [
    { name: "224x224", images, concurrency: o.concurrency, meanKb },
  ];
  for (const [k, f] of o.frames.entries()) {
    const { width, height } = frameSize(f);
    const frames = (await challengeImages(Math.min(o.images, 16), 3 + k, width, height)).map((j) =>
      Buffer.from(j).toString("base64"),
    );
    const kb = frames.reduce((a, b) => a + b.length, 0) / frames.length / 1024;
    process.stderr.write(`[bench] ${frames.length} ${f} JPEGs (q75), ${kb.toFixed(0)} KiB of base64 each\n`);
    series.push({ name: f, images: frames, concurrency: o.frameConcurrency, meanKb: Number(kb.toFixed(1)) });
  }
  const int8 = o.int8 ? await quantizeBundle(o) : undefined;

  const ep = o.device === "cuda" ? "cuda" : "cpu";
  const axonCommand = (bundleDir: string, port: number, variant?: AxonVariant) => ({
    command: process.execPath,
    env: variant?.env,
    args: [
      ...(variant?.nodeFlags ?? o.axonNodeFlags),
      ...(o.axonEntry.endsWith(".ts") ? ["--import", "tsx"] : []),
      o.axonEntry,
      "--model",
      bundleDir,
      "--port",
      String(port),
      "--hotkey",
      ids.minerHotkey,
      "--metagraph",
      metagraphFile,
      "--ep",
      ep,
      "--threads",
      String(o.threads),
      ...(variant?.axonArgs ?? []),
    ],
  });
  const plan: { role: string; make: (port: number) => { command: string; args: string[] } }[] = [
    {
      role: "python",
      make: (port) => ({
        command: o.python,
        args: [
          join(BENCH_DIR, "baseline", "miner.py"),
          "--model-dir",
          o.workDir,
          "--port",
          String(port),
          "--hotkey",
          ids.minerHotkey,
          "--allow",
          ids.validators.map((v) => v.address).join(","),
          "--device",
          o.device,
          "--threads",
          String(o.threads),
        ],
      }),
    },
    { role: "ours", make: (port) => axonCommand(o.workDir, port) },
  ];
  if (o.fp16) plan.push({ role: "ours-fp16", make: (port) => axonCommand(join(o.workDir, "fp16"), port) });
  if (int8) plan.push({ role: "ours-int8", make: (port) => axonCommand(int8.dir, port) });
  for (const v of o.variants) {
    if (v.bundle === "int8" && !int8) throw new Error(`--variant ${v.name} needs --int8`);
    const dir = v.bundle === "int8" && int8 ? int8.dir : o.workDir;
    plan.push({ role: `ours-${v.name}`, make: (port) => axonCommand(dir, port, v) });
  }

  const servers: { role: string; process: ServerProcess; target: AxonTarget; memoryAfterStart: Memory }[] = [];
  const failedToStart: Record<string, string> = {};
  const probe = dendrites(ids.validators, 1)[0]!;
  try {
    // One at a time, so no start competes with another for the CPU.
    for (const step of plan) {
      const port = await freePort();
      const made = step.make(port);
      const command = o.pinCpus ? { command: "taskset", args: ["-c", o.pinCpus, made.command, ...made.args] } : made;
      for (const other of servers) if (o.pauseIdle) other.process.pause();
      const server = new ServerProcess({ name: step.role, port, cwd: REPO_ROOT, ...made, ...command });
      live.add(server);
      const target: AxonTarget = { ip: "127.0.0.1", port, hotkey: ids.minerHotkey };
      process.stderr.write(`[bench] starting ${step.role} (pid ${server.pid}) on port ${port}\n`);
      const variant = !["python", "ours", "ours-fp16", "ours-int8"].includes(step.role);
      let ms: number;
      try {
        ms = await server.waitForFirstAnswer(
          async () => {
            const r = await probe.call({ axon: target, image: images[0]!, timeout: 60 });
            return answered(r);
          },
          // A variant that cannot answer is left out (noted in the JSON) rather than ending the run.
          variant ? Math.min(o.startTimeoutMs, 60_000) : o.startTimeoutMs,
        );
      } catch (error) {
        if (!variant) throw error;
        failedToStart[step.role] = (error as Error).message.slice(0, 2000);
        process.stderr.write(`[bench] ${step.role} left out: ${failedToStart[step.role]}\n`);
        await server.stop();
        live.delete(server);
        continue;
      }
      process.stderr.write(`[bench] ${step.role} answered ${(ms / 1000).toFixed(1)} s after spawn\n`);
      servers.push({ role: step.role, process: server, target, memoryAfterStart: server.memory() });
    }

    // Only the server being measured runs (with --pause-idle); the 300 ms before each block lets a resumed one settle.
    const focus = (on: (typeof servers)[number]) => {
      if (!o.pauseIdle) return;
      for (const s of servers) if (s !== on) s.process.pause();
      on.process.resume();
    };
    // Samples per server, keyed "<series>@<concurrency>".
    const samples = new Map<string, Map<string, Sample[]>>(servers.map((s) => [s.role, new Map()]));
    const wall = new Map<string, Map<string, number>>(servers.map((s) => [s.role, new Map()]));
    const perRound = Math.ceil(o.requests / o.rounds);
    // A server whose block mostly fails (deadline overruns) sits out the rest of that concurrency level.
    const abandoned = new Map<string, string>();
    let imageCursor = 1;
    for (const set of series) {
      for (const c of set.concurrency) {
        const key = `${set.name}@${c}`;
        const workers = dendrites(ids.validators, c);
        for (const s of servers) {
          process.stderr.write(`[bench] ${key} warm-up ${s.role}: ${o.warmup} requests\n`);
          focus(s);
          await sleep(o.pauseIdle ? 300 : 0);
          await runBlock(workers, s.target, set.images, o.warmup, imageCursor);
        }
        for (let round = 0; round < o.rounds; round++) {
          // Alternate the order every round so neither server always runs first after a pause.
          const order = round % 2 === 0 ? servers : [...servers].reverse();
          for (const s of order) {
            if (abandoned.has(`${s.role}@${key}`)) continue;
            focus(s);
            await sleep(300);
            const block = await runBlock(workers, s.target, set.images, perRound, imageCursor);
            const list = samples.get(s.role)!.get(key) ?? [];
            list.push(...block.samples.map((x) => ({ ...x, image: x.image + series.indexOf(set) * 1_000_000 })));
            samples.get(s.role)!.set(key, list);
            wall.get(s.role)!.set(key, (wall.get(s.role)!.get(key) ?? 0) + block.wallMs);
            const p = summarize(block.samples.map((x) => x.latencyMs));
            process.stderr.write(
              `[bench] ${key} round ${round + 1}/${o.rounds} ${s.role}: p50 ${p.p50} ms, p99 ${p.p99} ms, ` +
                `${((perRound * 1000) / block.wallMs).toFixed(1)} req/s\n`,
            );
            const failed = block.samples.filter((x) => !answered(x)).length;
            if (failed > block.samples.length / 2) {
              const why = `stopped after round ${round + 1}: ${failed} of ${block.samples.length} requests failed`;
              abandoned.set(`${s.role}@${key}`, why);
              process.stderr.write(`[bench] ${key} ${s.role}: ${why}\n`);
            }
          }
          imageCursor += perRound;
        }
      }
    }
    /** Every measured level: the 224×224 series by bare concurrency ("1"), the others as "<frame>@<c>". */
    const levels = series.flatMap((set) =>
      set.concurrency.map((c) => ({
        key: `${set.name}@${c}`,
        label: set === series[0] ? String(c) : `${set.name}@${c}`,
      })),
    );

    const gpuMemory = gpuMemoryByPid();
    const reports: Record<string, ServerReport> = {};
    for (const s of servers) {
      const byConcurrency: Record<string, ServerResult> = {};
      for (const { key, label } of levels) {
        const list = samples.get(s.role)!.get(key) ?? [];
        const good = list.filter(answered);
        byConcurrency[label] = {
          latencyMs: summarize(good.map((x) => x.latencyMs)),
          reqPerSec: Number(((list.length * 1000) / (wall.get(s.role)!.get(key) ?? Number.NaN)).toFixed(1)),
          errors: list.length - good.length,
          ...(abandoned.has(`${s.role}@${key}`) ? { abandoned: abandoned.get(`${s.role}@${key}`) } : {}),
        };
      }
      const line = s.process.log.split("\n").find((l) => l.startsWith("[baseline]"));
      reports[s.role] = {
        role: s.role,
        description:
          s.role === "python"
            ? (line?.replace("[baseline] ", "") ?? "python baseline")
            : `TypeScript axon (@roadwork/miner + @roadwork/inference, onnxruntime-node) ${JSON.stringify(s.process.info ?? {})}`,
        device: s.role === "python" ? o.device : String(s.process.info?.device ?? "?"),
        startToFirstAnswerMs: Math.round(s.process.startToFirstAnswerMs),
        memoryAfterStart: s.memoryAfterStart,
        memoryAfterLoad: s.process.memory(),
        gpuMemoryMiB: gpuMemory.get(s.process.pid) ?? null,
        byConcurrency,
      };
    }

    // Same images through both: how far apart are the answers? (Same weights; decoders and kernels differ slightly.)
    const firstAnswer = (role: string) => {
      const m = new Map<number, number>();
      for (const list of samples.get(role)!.values())
        for (const x of list) if (answered(x) && !m.has(x.image)) m.set(x.image, x.prediction);
      return m;
    };
    const python = firstAnswer("python");
    const agreement: Record<string, { images: number; maxAbsDiff: number; sameSideOfHalf: number }> = {};
    const ratios: Record<string, Record<string, { p50: number; p99: number; reqPerSec: number }>> = {};
    const targets: { what: string; limit: number; measured: number; met: boolean }[] = [];
    for (const s of servers.filter((x) => x.role !== "python")) {
      const ours = firstAnswer(s.role);
      let max = 0;
      let n = 0;
      let same = 0;
      for (const [image, p] of python) {
        const q = ours.get(image);
        if (q === undefined) continue;
        n++;
        max = Math.max(max, Math.abs(p - q));
        if (p > 0.5 === q > 0.5) same++;
      }
      agreement[`${s.role} vs python`] = { images: n, maxAbsDiff: Number(max.toExponential(2)), sameSideOfHalf: same };
      ratios[`${s.role}/python`] = {};
      for (const { label } of levels) {
        const a = reports[s.role]!.byConcurrency[label]!;
        const b = reports.python!.byConcurrency[label]!;
        const r = (x: number, y: number) => Number((x / y).toFixed(3));
        ratios[`${s.role}/python`]![label] = {
          p50: r(a.latencyMs.p50, b.latencyMs.p50),
          p99: r(a.latencyMs.p99, b.latencyMs.p99),
          reqPerSec: r(a.reqPerSec, b.reqPerSec),
        };
        const c = label;
        const limit = (s.role.startsWith("ours-int8") ? o.targetInt8P99Ratio : o.targetP99Ratio)[label];
        if (limit !== undefined) {
          const measured = ratios[`${s.role}/python`]![label]!.p99;
          targets.push({
            what: `${s.role} p99 / python p99 at concurrency ${c}`,
            limit,
            measured,
            met: measured <= limit,
          });
        }
      }
      if (o.targetP99Ms !== undefined) {
        const c = o.concurrency[0]!;
        const measured = reports[s.role]!.byConcurrency[String(c)]!.latencyMs.p99;
        targets.push({
          what: `${s.role} p99 at concurrency ${c} (ms)`,
          limit: o.targetP99Ms,
          measured,
          met: measured <= o.targetP99Ms,
        });
      }
    }

    const result = {
      benchmark: "roadwork axon vs natix-style python miner",
      label: o.label,
      date: new Date().toISOString(),
      machine: describeMachine(),
      model: {
        description: spec.members.map((m) => m.description).join(" + ") + (spec.hflip ? " + hflip TTA" : ""),
        weights: spec.weights,
        members: spec.members.map((m) => ({ arch: m.arch, params: m.params, onnxVsTorch: m.check })),
        hflip: spec.hflip,
        exportedWith: { torch: spec.torch, onnxruntime: spec.onnxruntime },
      },
      method: {
        requestsPerServerPerConcurrency: perRound * o.rounds,
        warmupPerServerPerConcurrency: o.warmup,
        rounds: o.rounds,
        concurrency: o.concurrency,
        distinctImages: images.length,
        meanImageBase64KiB: Number(meanKb.toFixed(1)),
        series: series.map((x) => ({
          frame: x.name,
          images: x.images.length,
          concurrency: x.concurrency,
          meanBase64KiB: Number(x.meanKb.toFixed(1)),
        })),
        requests:
          "signed ImageSynapse requests from @roadwork/protocol's Dendrite (sr25519, one validator hotkey and uuid per worker), closed loop",
        latency: "client round trip, request sent to response body read",
        axonResultCache: "disabled (the driver repeats images; validators do not)",
        serverCpus: o.pinCpus || "all",
        axonNodeFlags: o.axonNodeFlags.join(" ") || "none",
        idleServers: o.pauseIdle ? "stopped (SIGSTOP) while another server is measured" : "left running",
        ...(o.variants.length > 0 ? { variants: o.variants } : {}),
        inferenceThreads: o.threads || "framework default (one per core)",
        pythonSignatureCheck:
          "skipped: no sr25519 binding installable for Python here; the axon verifies every signature",
        pythonVersions,
      },
      servers: reports,
      ratios,
      ...(Object.keys(failedToStart).length > 0 ? { failedToStart } : {}),
      agreement,
      ...(int8 ? { int8: int8.report } : {}),
      targets,
    };

    mkdirSync(o.outDir, { recursive: true });
    writeFileSync(join(o.outDir, `${o.label}.json`), `${JSON.stringify(result, null, 2)}\n`);
    const svg = renderHistogramSvg(
      "Latency: TypeScript axon vs natix-style Python miner",
      `${result.model.description} (random weights) · ${result.machine.gpu?.name ?? `${result.machine.cpuModel}, ${result.machine.cores} cores`} · ${perRound * o.rounds} requests per server and concurrency`,
      levels.map(({ key, label }) => ({
        title: label.includes("@") ? key.replace("@", ", concurrency ") : `224x224, concurrency ${label}`,
        series: servers.map((s) => ({
          server: s.role,
          latenciesMs: (samples.get(s.role)!.get(key) ?? []).filter(answered).map((x) => x.latencyMs),
        })),
      })),
    );
    writeFileSync(join(o.outDir, `${o.label}.svg`), svg);
    process.stderr.write(`[bench] wrote ${join(o.outDir, `${o.label}.json`)} and ${o.label}.svg\n`);
    return result;
  } finally {
    await Promise.all([...live].map((s) => s.stop()));
    live.clear();
  }
}

function parseRatios(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(",").filter(Boolean)) {
    const [c, limit] = part.split(":");
    if (!c || !limit || !Number.isFinite(Number(limit))) throw new Error(`bad --target-p99-ratio entry '${part}'`);
    out[c] = Number(limit);
  }
  return out;
}

/** Command-line options (defaults: the CPU comparison `npm run bench` runs). */
export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      python: { type: "string", default: process.env.BENCH_PYTHON ?? join(BENCH_DIR, ".venv", "bin", "python") },
      models: { type: "string", default: "dinov2-s14-reg" },
      hflip: { type: "boolean", default: false },
      fp16: { type: "boolean", default: false },
      device: { type: "string", default: "cpu" },
      requests: { type: "string", default: "300" },
      warmup: { type: "string", default: "20" },
      concurrency: { type: "string", default: "1,16" },
      rounds: { type: "string", default: "4" },
      images: { type: "string", default: "64" },
      validators: { type: "string", default: "16" },
      out: { type: "string", default: join(BENCH_DIR, "out") },
      label: { type: "string" },
      "work-dir": { type: "string" },
      "axon-entry": { type: "string", default: join(BENCH_DIR, "axon-server.ts") },
      "start-timeout-s": { type: "string", default: "300" },
      "target-p99-ratio": { type: "string", default: "" },
      "target-p99-ms": { type: "string" },
      "pin-cpus": { type: "string", default: "" },
      threads: { type: "string", default: "0" },
      int8: { type: "boolean", default: false },
      "heldout-images": { type: "string", default: "512" },
      frames: { type: "string", default: "" },
      "frame-concurrency": { type: "string", default: "1" },
      "target-int8-p99-ratio": { type: "string", default: "" },
      "pause-idle": { type: "boolean", default: false },
      variant: { type: "string", multiple: true, default: [] },
      "axon-node-flags": { type: "string", default: "" },
    },
  });
  const device = values.device;
  if (device !== "cpu" && device !== "cuda") throw new Error(`--device must be cpu or cuda, not ${device}`);
  const models = values.models.split(",").filter(Boolean);
  const label = values.label ?? `${device}-${models.join("+")}${values.hflip ? "-hflip" : ""}`;
  const int = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, not ${v}`);
    return n;
  };
  return {
    python: values.python,
    models,
    hflip: values.hflip,
    fp16: values.fp16,
    device,
    requests: int("requests", values.requests),
    warmup: int("warmup", values.warmup),
    concurrency: values.concurrency.split(",").map((c) => int("concurrency", c)),
    rounds: Math.max(1, int("rounds", values.rounds)),
    images: Math.max(1, int("images", values.images)),
    validators: Math.max(1, int("validators", values.validators)),
    outDir: resolve(values.out),
    label,
    workDir: resolve(values["work-dir"] ?? join(values.out, "models", label)),
    axonEntry: resolve(values["axon-entry"]),
    startTimeoutMs: int("start-timeout-s", values["start-timeout-s"]) * 1000,
    pinCpus: values["pin-cpus"],
    threads: int("threads", values.threads),
    targetP99Ratio: parseRatios(values["target-p99-ratio"]),
    targetP99Ms: values["target-p99-ms"] === undefined ? undefined : Number(values["target-p99-ms"]),
    int8: values.int8,
    heldoutImages: Math.max(1, int("heldout-images", values["heldout-images"])),
    frames: values.frames.split(",").filter(Boolean),
    frameConcurrency: values["frame-concurrency"].split(",").map((c) => int("frame-concurrency", c)),
    targetInt8P99Ratio: parseRatios(values["target-int8-p99-ratio"]),
    pauseIdle: values["pause-idle"],
    variants: values.variant.map(parseVariant),
    axonNodeFlags: values["axon-node-flags"].split(" ").filter(Boolean),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const result = await runBenchmark(parseBenchArgs(process.argv.slice(2)));
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
