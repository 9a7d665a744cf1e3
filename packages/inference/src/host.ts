// Hot swap: ModelHost serves through the active engine while a new bundle loads beside it. The new engine is
// verified (checksums, probe outputs, latency) before it takes traffic; the swap is one assignment, so a call
// is served entirely by the old or entirely by the new model; the old engine drains its in-flight calls before
// it is closed. Any failure keeps the old engine serving and is reported.
import { watch } from "node:fs";
import { basename, dirname } from "node:path";
import type { EngineStats } from "./engine.ts";
import { OnnxScorer } from "./engine.ts";
import { type LoadOptions, resolveModel } from "./load.ts";
import type { ScoreOptions, ScoreResult, Scorer } from "./scorer.ts";
import { consoleLogger } from "./session.ts";

export interface ModelHostOptions extends Omit<LoadOptions, "model"> {
  /** Largest acceptable median probe latency for a new model, in ms (default 2000: validators allow 9 s). */
  latencyBudgetMs?: number;
}

export type ReloadResult =
  | { ok: true; swapped: true; version: string; previous: string; loadMs: number }
  | { ok: true; swapped: false; version: string; reason: string }
  | { ok: false; version: string; reason: string };

export interface HostStats {
  activeVersion: string;
  activeSource: string;
  loads: number;
  loadFailures: number;
  lastError: string | undefined;
  lastSwapAt: string | undefined;
  reloading: boolean;
  engine: EngineStats;
}

export class ModelHost implements Scorer {
  private active: OnnxScorer;
  private source: string;
  private loads = 1;
  private loadFailures = 0;
  private lastError: string | undefined;
  private lastSwapAt: string | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private closed = false;

  private constructor(
    engine: OnnxScorer,
    source: string,
    private readonly options: ModelHostOptions,
  ) {
    this.active = engine;
    this.source = source;
  }

  /** Loads the first model; unlike reload(), a failure here is thrown (there is nothing to keep serving). */
  static async open(source: string, options: ModelHostOptions = {}): Promise<ModelHost> {
    const bundle = await resolveModel(source, options);
    return new ModelHost(await OnnxScorer.load(bundle, options), source, options);
  }

  get modelVersion(): string {
    return this.active.modelVersion;
  }

  get activeVersion(): string {
    return this.active.modelVersion;
  }

  get engine(): OnnxScorer {
    return this.active;
  }

  get stats(): HostStats {
    return {
      activeVersion: this.active.modelVersion,
      activeSource: this.source,
      loads: this.loads,
      loadFailures: this.loadFailures,
      lastError: this.lastError,
      lastSwapAt: this.lastSwapAt,
      reloading: this.pending > 0,
      engine: this.active.stats,
    };
  }

  score(image: Uint8Array, options?: ScoreOptions): Promise<ScoreResult> {
    // Synchronously enters the active engine (which counts the call in flight before its first await),
    // so a swap that happens afterwards waits for this call instead of closing under it.
    return this.active.score(image, options);
  }

  /**
   * Loads `source` (default: the current source, e.g. a pointer whose target changed) and swaps it in when it
   * passes every check. Reloads run one at a time, in order. Never throws; the result says what happened.
   */
  reload(source: string = this.source, options: { force?: boolean } = {}): Promise<ReloadResult> {
    this.pending++;
    const run = this.chain.then(() => this.doReload(source, options.force ?? false));
    this.chain = run.catch(() => {});
    return run.finally(() => {
      this.pending--;
    });
  }

  private async doReload(source: string, force: boolean): Promise<ReloadResult> {
    const logger = this.options.logger ?? consoleLogger;
    const current = this.active.modelVersion;
    if (this.closed) return { ok: false, version: current, reason: "model host is closed" };
    const started = performance.now();
    let next: OnnxScorer | undefined;
    let target = source;
    try {
      const bundle = await resolveModel(source, this.options);
      const version = `${bundle.manifest.name}@${bundle.manifest.version}`;
      target = `${source} (${version})`;
      if (!force && version === current) {
        this.source = source;
        return { ok: true, swapped: false, version: current, reason: `${version} is already serving` };
      }
      next = await OnnxScorer.load(bundle, this.options);
      const budget = this.options.latencyBudgetMs ?? 2000;
      if (next.probeLatencyMs > budget) {
        throw new Error(`probe latency ${next.probeLatencyMs.toFixed(0)} ms is over the ${budget} ms budget`);
      }
      const bad = next.probeScores.find((s) => !(s > 0 && s < 1) || s === 0.5);
      if (bad !== undefined) throw new Error(`probe score ${bad} is outside (0,1) or exactly 0.5`);
      if (this.closed) throw new Error("model host closed during the reload");
    } catch (error) {
      await next?.close();
      this.loadFailures++;
      this.lastError = `${target}: ${(error as Error).message}`;
      logger.warn("inference: reload failed, keeping the current model", {
        source,
        active: current,
        reason: this.lastError,
      });
      return { ok: false, version: current, reason: this.lastError };
    }
    const previous = this.active;
    this.active = next;
    this.source = source;
    this.loads++;
    this.lastSwapAt = new Date().toISOString();
    const loadMs = performance.now() - started;
    logger.info("inference: model swapped", {
      from: previous.modelVersion,
      to: next.modelVersion,
      loadMs: Math.round(loadMs),
    });
    await previous.close(); // drains calls already inside the old engine
    return { ok: true, swapped: true, version: next.modelVersion, previous: previous.modelVersion, loadMs };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    await this.active.close();
  }
}

export interface WatchHandle {
  close(): void;
}

/**
 * Reloads the host when a local manifest.json or pointer file changes. Watches the directory (atomic writers
 * replace the file by rename, which a file watch would miss) and debounces bursts of events.
 */
export function watchModelSource(
  host: ModelHost,
  path: string,
  options: { debounceMs?: number; source?: string } = {},
): WatchHandle {
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(dirname(path), (_event, file) => {
    if (file !== null && file !== name) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      void host.reload(options.source ?? (name === "manifest.json" ? dirname(path) : path));
    }, options.debounceMs ?? 200);
  });
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}

/** Reloads the host's current source on SIGHUP (`kill -HUP <pid>`). Returns a function that removes the handler. */
export function reloadOnSighup(host: ModelHost, onResult?: (result: ReloadResult) => void): () => void {
  const handler = () => {
    void host.reload().then(onResult);
  };
  process.on("SIGHUP", handler);
  return () => {
    process.off("SIGHUP", handler);
  };
}

/** Re-checks the host's source every `intervalMs` (for s3:// pointers, which cannot be watched). */
export function pollModelSource(
  host: ModelHost,
  intervalMs: number,
  onResult?: (result: ReloadResult) => void,
): WatchHandle {
  const timer = setInterval(() => {
    if (!host.stats.reloading) void host.reload().then(onResult);
  }, intervalMs);
  timer.unref();
  return { close: () => clearInterval(timer) };
}
