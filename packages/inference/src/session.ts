// onnxruntime session creation, kept apart from running. The device → execution-provider table is frozen in one
// place; "auto" tries the GPU first and falls back to CPU with the reason logged, so no path needs a GPU.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";

export type ExecutionProviderChoice = "auto" | "cuda" | "cpu";
export type Device = "cuda" | "cpu";

/** What each device means to onnxruntime. CUDA uses cuDNN convolutions with an exhaustive algorithm search. */
export const EXECUTION_PROVIDERS: Readonly<Record<Device, readonly ort.InferenceSession.ExecutionProviderConfig[]>> =
  Object.freeze({
    cuda: Object.freeze([{ name: "cuda", deviceId: 0 } as ort.InferenceSession.ExecutionProviderConfig, "cpu"]),
    cpu: Object.freeze(["cpu"] as ort.InferenceSession.ExecutionProviderConfig[]),
  });

/** Order in which "auto" tries devices. */
export const AUTO_ORDER: readonly Device[] = Object.freeze(["cuda", "cpu"]);

export interface Logger {
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
}

export const consoleLogger: Logger = {
  info: (m, d) => console.info(m, d ?? ""),
  warn: (m, d) => console.warn(m, d ?? ""),
};
export const silentLogger: Logger = { info: () => {}, warn: () => {} };

export interface SessionOptions {
  executionProvider?: ExecutionProviderChoice;
  /** Threads inside one operator (0 = onnxruntime's default, one per core). */
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  /**
   * Whether intra-op threads spin while waiting for work (onnxruntime's default: yes). Spinning starts the next
   * operator sooner on cores the model has to itself; off, a waiting thread gives its core away at once, which is
   * better when the cores are shared (the event loop, V8's GC helpers, other processes).
   */
  allowSpinning?: boolean;
  /**
   * onnxruntime's dynamic block size for intra-op loops (0 or absent: its static split). Threads take smaller blocks
   * as they free up, so one thread delayed by other work on its core no longer holds up the whole operator.
   */
  dynamicBlockBase?: number;
  /**
   * Intra-op threads of a member's head session (default 1: a linear layer over one embedding takes microseconds on
   * the calling thread). Each session owns its pool, and a pool thread spins after its run: with the backbone's
   * thread count, the head's idle spinner took a core from the backbone's next run on a CPU host.
   */
  headIntraOpNumThreads?: number;
  logger?: Logger;
}

/** onnxruntime session config entries (onnxruntime_session_options_config_keys.h) for the options that have no field. */
export function sessionConfigEntries(options: SessionOptions): Record<string, string> {
  const entries: Record<string, string> = {};
  if (options.allowSpinning !== undefined)
    entries["session.intra_op.allow_spinning"] = options.allowSpinning ? "1" : "0";
  if (options.dynamicBlockBase !== undefined) {
    if (!Number.isInteger(options.dynamicBlockBase) || options.dynamicBlockBase < 0) {
      throw new Error(`dynamicBlockBase must be a whole number >= 0, not ${options.dynamicBlockBase}`);
    }
    if (options.dynamicBlockBase > 0) entries["session.dynamic_block_base"] = String(options.dynamicBlockBase);
  }
  return entries;
}

/** "a.b.c": "v" → { a: { b: { c: "v" } } }, the nested form onnxruntime-node flattens back into config keys. */
function nestedConfig(entries: Record<string, string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entries)) {
    const parts = key.split(".");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      node[part] ??= {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts.at(-1) as string] = value;
  }
  return root;
}

export interface CreatedSession {
  session: ort.InferenceSession;
  device: Device;
  /** Why the preferred device was not used ("auto" only). */
  fallbackReason?: string;
}

/** Set when creating a CUDA session failed for a reason that is not the model's (missing provider library). */
let cudaUnavailable: string | undefined;

/** Whether this onnxruntime-node build can run on the device at all (cheap check before trying). */
export function deviceAvailable(device: Device): { ok: boolean; reason?: string } {
  if (device === "cpu") return { ok: true };
  if (cudaUnavailable) return { ok: false, reason: cudaUnavailable };
  const backends = ort.listSupportedBackends?.() ?? [];
  const cuda = backends.find((b) => b.name === "cuda");
  if (!cuda) return { ok: false, reason: "this onnxruntime-node build has no CUDA backend" };
  if (process.platform !== "linux") {
    return { ok: false, reason: `CUDA is supported on linux only, not ${process.platform}` };
  }
  const lib = cudaProviderLibrary();
  if (!existsSync(lib)) {
    return {
      ok: false,
      reason: `onnxruntime-node has no CUDA provider (${lib} is missing; install it on the GPU host with ONNXRUNTIME_NODE_INSTALL=cuda12)`,
    };
  }
  return { ok: true };
}

/** Where onnxruntime-node keeps the CUDA execution provider next to its native binding. */
function cudaProviderLibrary(): string {
  const main = createRequire(import.meta.url).resolve("onnxruntime-node"); // …/onnxruntime-node/dist/index.js
  return join(
    dirname(dirname(main)),
    "bin",
    "napi-v6",
    process.platform,
    process.arch,
    "libonnxruntime_providers_cuda.so",
  );
}

function baseOptions(options: SessionOptions): ort.InferenceSession.SessionOptions {
  const entries = sessionConfigEntries(options);
  return {
    graphOptimizationLevel: "all",
    intraOpNumThreads: options.intraOpNumThreads ?? 0,
    interOpNumThreads: options.interOpNumThreads ?? 0,
    executionMode: "sequential",
    logSeverityLevel: 3,
    ...(Object.keys(entries).length > 0 ? { extra: nestedConfig(entries) } : {}),
  };
}

async function createOn(
  model: Uint8Array | string,
  device: Device,
  options: SessionOptions,
): Promise<ort.InferenceSession> {
  const check = deviceAvailable(device);
  if (!check.ok) throw new Error(check.reason);
  const sessionOptions = {
    ...baseOptions(options),
    executionProviders: [...EXECUTION_PROVIDERS[device]],
    // A missing CUDA provider is expected on CPU hosts; keep onnxruntime's own error log quiet for that attempt.
    ...(device === "cuda" ? { logSeverityLevel: 4 as const } : {}),
  };
  try {
    return typeof model === "string"
      ? await ort.InferenceSession.create(model, sessionOptions)
      : await ort.InferenceSession.create(model, sessionOptions);
  } catch (error) {
    const message = (error as Error).message;
    if (device === "cuda" && /providers_(shared|cuda)|cannot open shared object|CUDA/i.test(message)) {
      cudaUnavailable = `CUDA execution provider unavailable: ${message.split("\n")[0]?.slice(-200)}`;
    }
    throw error;
  }
}

/** Creates a session on the chosen device; "auto" walks AUTO_ORDER and records why a device was skipped. */
export async function createSession(model: Uint8Array | string, options: SessionOptions = {}): Promise<CreatedSession> {
  const choice = options.executionProvider ?? "auto";
  const logger = options.logger ?? consoleLogger;
  if (choice !== "auto") {
    try {
      return { session: await createOn(model, choice, options), device: choice };
    } catch (error) {
      throw new Error(
        `cannot create an onnxruntime session on ${choice}: ${(error as Error).message}` +
          (choice === "cuda" ? " (use executionProvider 'auto' to fall back to CPU)" : ""),
      );
    }
  }
  const reasons: string[] = [];
  for (const device of AUTO_ORDER) {
    try {
      const session = await createOn(model, device, options);
      const fallbackReason = reasons.length > 0 ? reasons.join("; ") : undefined;
      if (fallbackReason) logger.warn("inference: falling back to CPU", { device, reason: fallbackReason });
      return { session, device, ...(fallbackReason ? { fallbackReason } : {}) };
    } catch (error) {
      reasons.push(`${device}: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  throw new Error(`cannot create an onnxruntime session on any device (${reasons.join("; ")})`);
}
