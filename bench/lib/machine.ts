// What the numbers were measured on: CPU model, cores, memory, GPU (when nvidia-smi answers), runtimes.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";

export interface MachineDescription {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  gpu: { name: string; memoryMiB: number; driver: string } | null;
  node: string;
}

export function describeMachine(): MachineDescription {
  let cpuModel = cpus()[0]?.model ?? "unknown";
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line) cpuModel = line.split(":")[1]?.trim() ?? cpuModel;
  } catch {
    // not Linux: os.cpus() is good enough
  }
  return {
    cpuModel,
    cores: cpus().length,
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    kernel: release(),
    gpu: describeGpu(),
    node: process.version,
  };
}

function describeGpu(): MachineDescription["gpu"] {
  try {
    const out = execFileSync(
      "nvidia-smi",
      ["--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 },
    );
    const [name, memory, driver] = (out.split("\n")[0] ?? "").split(",").map((s) => s.trim());
    if (!name) return null;
    return { name, memoryMiB: Number(memory), driver: driver ?? "" };
  } catch {
    return null;
  }
}

/** GPU memory each process holds (MiB), by pid; empty without nvidia-smi. */
export function gpuMemoryByPid(): Map<number, number> {
  const result = new Map<number, number>();
  try {
    const out = execFileSync("nvidia-smi", ["--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 10_000,
    });
    for (const line of out.split("\n")) {
      const [pid, mib] = line.split(",").map((s) => Number(s.trim()));
      if (pid && mib !== undefined && Number.isFinite(mib)) result.set(pid, mib);
    }
  } catch {
    // no GPU
  }
  return result;
}
