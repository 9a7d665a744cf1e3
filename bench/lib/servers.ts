// Server processes under test: spawned directly (so the pid is the server's own, for /proc/<pid>/status), timed
// from spawn to the first 200 answer, and stopped at the end.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

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

  async stop(): Promise<void> {
    if (this.#exit) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
