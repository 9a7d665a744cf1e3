// Hot swap: ModelHost serves through the active engine while a new bundle loads beside it. The new engine is
// verified (checksums, probe outputs, latency) before it takes traffic; the swap is one assignment, so a call
// is served entirely by the old or entirely by the new model; the old engine drains its in-flight calls before
// it is closed. Any failure keeps the old engine serving and is reported.
import { existsSync, type FSWatcher, statSync, watch } from "node:fs";
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

  get device(): "cpu" | "cuda" {
    return this.active.device;
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

  decodedPixels(image: Uint8Array): number | undefined {
    return this.active.decodedPixels(image);
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
 *
 * A watch follows an inode: when the directory itself is deleted and re-created (a deploy that replaces the whole
 * bundle directory), the old watch goes silent. So the parent directory is watched for the directory's name, and a
 * slow re-check (`recheckMs`, default 2000) compares the directory's inode; either re-attaches the watch to the new
 * directory and reloads, so later manifest rewrites are picked up without SIGHUP.
 */
export function watchModelSource(
  host: ModelHost,
  path: string,
  options: { debounceMs?: number; source?: string; recheckMs?: number } = {},
): WatchHandle {
  const name = basename(path);
  const dir = dirname(path);
  const source = options.source ?? (name === "manifest.json" ? dir : path);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let dirWatch: FSWatcher | undefined;
  let parentWatch: FSWatcher | undefined;
  let attachedIno: number | undefined;

  const schedule = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      // A deleted manifest (the directory being removed) is no new model; its return will be.
      if (existsSync(path)) void host.reload(source);
    }, options.debounceMs ?? 200);
  };
  const inode = (p: string): number | undefined => {
    try {
      return statSync(p).ino;
    } catch {
      return undefined;
    }
  };
  /** fs.watch on a path, or undefined when it is missing; a watch error (directory gone) just closes it. */
  const watchPath = (p: string, onEvent: (file: string | null) => void): FSWatcher | undefined => {
    try {
      const w = watch(p, (_event, file) => onEvent(file === null ? null : String(file)));
      w.on("error", () => w.close());
      return w;
    } catch {
      return undefined;
    }
  };
  const attach = () => {
    dirWatch?.close();
    attachedIno = inode(dir);
    dirWatch =
      attachedIno === undefined
        ? undefined
        : watchPath(dir, (file) => {
            if (file !== null && file !== name) return;
            schedule();
          });
  };
  /** Re-attaches when the directory was replaced (or has come back); a replaced directory means a new bundle. */
  const recheck = () => {
    if (closed) return;
    const now = inode(dir);
    if (now === attachedIno) return;
    attach();
    if (now !== undefined) schedule();
  };
  const attachParent = () => {
    parentWatch?.close();
    parentWatch = watchPath(dirname(dir), (file) => {
      if (file === null || file === basename(dir)) recheck();
    });
  };

  attach();
  attachParent();
  const poll = setInterval(() => {
    if (!parentWatch) attachParent();
    recheck();
  }, options.recheckMs ?? 2000);
  poll.unref();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      dirWatch?.close();
      parentWatch?.close();
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
