// Server processes under test: spawned directly (so the pid is the server's own, for /proc/<pid>/status), timed
// from spawn to the first 200 answer, and stopped at the end. `startRoadworkServe` is the one way the end-to-end
// benchmarks (bench:axon, bench:flood) start `roadwork serve` and learn where it answers.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { writeTinyClassifier } from "@roadwork/inference";

export interface ServerSpec {
  name: string;
  command: string;
  args: string[];
  port: number;
  env?: Record<string, string>;
  cwd?: string;
}

export interface Memory {
  rssMiB: number;
  peakRssMiB: number;
}

/** A free loopback port (the kernel picks it; closed again before the server binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export class ServerProcess {
  readonly child: ChildProcess;
  readonly spawnedAt = performance.now();
  startToFirstAnswerMs = Number.NaN;
  /** The axon's BENCH_AXON line (device actually used, probe latency), when it prints one. */
  info: Record<string, unknown> | undefined;
  #tail: string[] = [];
  #exit: string | undefined;
  #paused = false;

  constructor(readonly spec: ServerSpec) {
    this.child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (!line.trim()) continue;
        if (line.startsWith("BENCH_AXON ")) this.info = JSON.parse(line.slice("BENCH_AXON ".length));
        this.#tail.push(line);
        if (this.#tail.length > 40) this.#tail.shift();
      }
    };
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
    this.child.on("exit", (code, signal) => {
      this.#exit = `exited with ${signal ?? `code ${code}`}`;
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get log(): string {
    return this.#tail.join("\n");
  }

  /** Polls `answered` until it reports a 200; fails with the server's own output if it dies or takes too long. */
  async waitForFirstAnswer(answered: () => Promise<boolean>, timeoutMs: number): Promise<number> {
    const deadline = this.spawnedAt + timeoutMs;
    while (performance.now() < deadline) {
      if (this.#exit) throw new Error(`${this.spec.name} ${this.#exit} before answering:\n${this.log}`);
      if (await answered()) {
        this.startToFirstAnswerMs = performance.now() - this.spawnedAt;
        return this.startToFirstAnswerMs;
      }
      await sleep(100);
    }
    throw new Error(`${this.spec.name} gave no 200 answer within ${timeoutMs / 1000} s:\n${this.log}`);
  }

  /** VmRSS (resident now) and VmHWM (peak resident) from /proc. */
  memory(): Memory {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
    return { rssMiB: Math.round(kib("VmRSS") / 1024), peakRssMiB: Math.round(kib("VmHWM") / 1024) };
  }

  /**
   * Stops the process in place (SIGSTOP) while another server is measured on the same cores: an idle server's
   * housekeeping (a garbage collector's idle-time full collection, a framework's timers) would land on the measured
   * one. A deployed axon has the host to itself.
   */
  pause(): void {
    if (!this.#exit && !this.#paused) {
      this.child.kill("SIGSTOP");
      this.#paused = true;
    }
  }

  resume(): void {
    if (!this.#exit && this.#paused) {
      this.child.kill("SIGCONT");
      this.#paused = false;
    }
  }

  async stop(): Promise<void> {
    this.resume();
    if (this.#exit) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** The model a benchmark serves: the one given, else the project's tiny ONNX classifier written into `dir`. */
export async function benchModel(dir: string, given?: string): Promise<{ path: string; description: string }> {
  if (given) return { path: given, description: "user-supplied model" };
  const path = join(dir, "tiny.onnx");
  await writeTinyClassifier(path, { seed: 1 });
  return {
    path,
    description: "roadwork tiny classifier (Conv 8x8/8 -> ReLU -> GAP -> Gemm -> Sigmoid, 224x224 input, seed 1)",
  };
}

export interface RoadworkServe {
  child: ChildProcess;
  /** From the ready line: the first axon's hotkey, loopback address, port and model version. */
  hotkey: string;
  ip: string;
  port: number;
  modelVersion: string;
  /** The last 4000 characters of its stderr (JSON log lines). */
  stderr(): string;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

const READY = /roadwork axon ready hotkey=(\S+) address=http:\/\/\[?([\d.:a-f]+?)\]?:(\d+) model=(\S+)/;

/**
 * The axon container's malloc settings (containers/axon/Dockerfile, GLIBC_TUNABLES): buffers under 16 MiB (a body's
 * chunks, a 6 MB image) come from the heap rather than fresh mmaps, and up to 128 MiB freed there stays mapped, so
 * after the first few full-resolution frames the next ones reuse pages instead of touching new ones (~1,400 page faults
 * per 8 MiB body without, ~100 with; the first touch of a page is slow on a small VM). Read by glibc at process start.
 */
export const AXON_GLIBC_TUNABLES = "glibc.malloc.mmap_threshold=16777216:glibc.malloc.trim_threshold=134217728";

/**
 * `roadwork serve` (packages/cli) in its own process on a metagraph snapshot file, with `args` appended (port, host,
 * config, log level…) and `hotkeyMnemonic` as its hotkey; resolves once it prints its ready line.
 */
export async function startRoadworkServe(options: {
  model: string;
  metagraph: string;
  args: string[];
  hotkeyMnemonic: string;
  readyTimeoutMs?: number;
}): Promise<RoadworkServe> {
  const cli = new URL("../../packages/cli/bin/roadwork.mjs", import.meta.url).pathname;
  const child = spawn(
    process.execPath,
    // The axon container's node flags and malloc settings (containers/axon/Dockerfile): a 256 MB initial old space, so a
    // full-resolution frame's ~14 MB outside the heap does not start a full collection per body (docs/axon.md).
    [
      "--initial-old-space-size=256",
      cli,
      "serve",
      "--model",
      options.model,
      "--metagraph",
      options.metagraph,
      ...options.args,
    ],
    {
      env: { ...process.env, GLIBC_TUNABLES: AXON_GLIBC_TUNABLES, ROADWORK_HOTKEY_MNEMONIC: options.hotkeyMnemonic },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr = (stderr + c).slice(-4000);
  });
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  const stop = async () => {
    if (exited) return;
    const done = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await done;
    clearTimeout(timer);
  };
  try {
    const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
      let out = "";
      const timeoutMs = options.readyTimeoutMs ?? 60_000;
      const timer = setTimeout(
        () => reject(new Error(`axon not ready after ${timeoutMs / 1000} s: ${stderr}`)),
        timeoutMs,
      );
      child.stdout?.on("data", (c: Buffer) => {
        out += c;
        const m = READY.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`roadwork serve exited (${code}): ${stderr}`));
      });
    });
    const [, hotkey, ip, port, modelVersion] = ready as unknown as [string, string, string, string, string];
    return { child, hotkey, ip, port: Number(port), modelVersion, stderr: () => stderr, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
