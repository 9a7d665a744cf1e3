// Keeps a fresh MetagraphSnapshot for the axon's blacklist and priority. A failed refresh keeps the last good
// snapshot (its age keeps growing, so callers can decide how stale is too stale); losing our own registration is
// logged at alert level and reported as a change event.
import { EventEmitter } from "node:events";
import type { ApiPromise } from "@polkadot/api";
import type { ChainLogger } from "./logger.ts";
import { silentLogger } from "./logger.ts";
import { normaliseHotkey, readMetagraph, readOwnUid } from "./metagraph-reader.ts";
import { MetagraphSnapshot } from "./metagraph-snapshot.ts";

/** What the axon consumes: the latest snapshot and how old it is. */
export interface MetagraphSource {
  current(): MetagraphSnapshot;
  ageMs(): number;
}

export type MetagraphChange =
  | { kind: "registered"; uid: number }
  | { kind: "deregistered"; previousUid: number }
  | { kind: "uid-changed"; from: number; to: number }
  | { kind: "reregistered"; uid: number; blockAtRegistration: number };

export interface MetagraphWatcherOptions {
  api: ApiPromise;
  netuid: number;
  /** Our hotkey; enables the registration watch. */
  hotkey?: string;
  /** Default 90 s. */
  intervalMs?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  logger?: ChainLogger;
  onChange?: (change: MetagraphChange) => void;
  now?: () => number;
}

/** Events: "snapshot" (MetagraphSnapshot), "change" (MetagraphChange), "refresh-failed" (Error). */
export class MetagraphWatcher extends EventEmitter implements MetagraphSource {
  readonly #options: MetagraphWatcherOptions;
  readonly #logger: ChainLogger;
  readonly #now: () => number;
  readonly #hotkey: string | undefined;
  #snapshot: MetagraphSnapshot | undefined;
  #takenAt = 0;
  #uid: number | undefined;
  #registeredAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<boolean> | undefined;
  #stopped = false;
  #tracked = false;
  #lastError: Error | undefined;

  constructor(options: MetagraphWatcherOptions) {
    super();
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#hotkey = options.hotkey ? normaliseHotkey(options.hotkey) : undefined;
    if (options.onChange) this.on("change", options.onChange);
  }

  /** Reads the first snapshot (throws if that fails) and schedules the periodic refresh. */
  static async start(options: MetagraphWatcherOptions): Promise<MetagraphWatcher> {
    const watcher = new MetagraphWatcher(options);
    if (!(await watcher.refresh())) {
      throw new Error(`could not read the metagraph of netuid ${options.netuid}: ${watcher.lastError?.message}`);
    }
    watcher.#schedule();
    return watcher;
  }

  current(): MetagraphSnapshot {
    if (!this.#snapshot) throw new Error("no metagraph snapshot has been read yet");
    return this.#snapshot;
  }

  ageMs(): number {
    return this.#snapshot ? this.#now() - this.#takenAt : Number.POSITIVE_INFINITY;
  }

  /** Our uid, undefined when not registered (or no hotkey given). */
  get uid(): number | undefined {
    return this.#uid;
  }

  get registered(): boolean {
    return this.#uid !== undefined;
  }

  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /** One refresh; concurrent callers share it. Resolves false (keeping the last snapshot) on failure. */
  refresh(): Promise<boolean> {
    this.#running ??= this.#refresh().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #refresh(): Promise<boolean> {
    const { api, netuid, timeoutMs } = this.#options;
    try {
      const [data, uid] = await Promise.all([
        readMetagraph(api, netuid, { timeoutMs }),
        this.#hotkey ? readOwnUid(api, netuid, this.#hotkey, { timeoutMs }) : Promise.resolve(undefined),
      ]);
      const snapshot = new MetagraphSnapshot(data);
      this.#snapshot = snapshot;
      this.#takenAt = this.#now();
      this.#lastError = undefined;
      if (this.#hotkey) this.#track(uid, snapshot);
      this.emit("snapshot", snapshot);
      return true;
    } catch (error) {
      this.#lastError = error as Error;
      this.#logger.warn("metagraph refresh failed; keeping the last good snapshot", {
        netuid,
        error: (error as Error).message,
        ageMs: this.#snapshot ? this.ageMs() : null,
      });
      this.emit("refresh-failed", error);
      return false;
    }
  }

  #track(uid: number | undefined, snapshot: MetagraphSnapshot): void {
    const previous = this.#uid;
    const first = !this.#tracked;
    this.#tracked = true;
    const registeredAt = this.#hotkey ? snapshot.neuron(this.#hotkey)?.blockAtRegistration : undefined;
    this.#uid = uid;
    const changes: MetagraphChange[] = [];
    if (uid === undefined) {
      if (first || previous !== undefined) {
        this.#logger.error("ALERT: hotkey is not registered on the subnet; validators will not query this miner", {
          alert: true,
          hotkey: this.#hotkey,
          netuid: this.#options.netuid,
          previousUid: previous ?? null,
        });
      }
      if (previous !== undefined) changes.push({ kind: "deregistered", previousUid: previous });
    } else if (!first && previous === undefined) {
      changes.push({ kind: "registered", uid });
    } else if (!first && previous !== uid && previous !== undefined) {
      changes.push({ kind: "uid-changed", from: previous, to: uid });
    } else if (
      !first &&
      registeredAt !== undefined &&
      this.#registeredAt !== undefined &&
      registeredAt !== this.#registeredAt
    ) {
      // Same uid, new registration block: pruned and registered again between two refreshes.
      changes.push({ kind: "reregistered", uid, blockAtRegistration: registeredAt });
    }
    this.#registeredAt = uid === undefined ? undefined : registeredAt;
    for (const change of changes) this.emit("change", change);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.refresh().finally(() => this.#schedule());
    }, this.#options.intervalMs ?? 90_000);
    this.#timer.unref();
  }
}
