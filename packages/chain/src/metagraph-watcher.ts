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
  /**
   * Further hotkeys served by the same process (one axon each): each gets the same registration watch, and its
   * "change" events name it as their second argument. `uid`/`registered` stay those of the first hotkey.
   */
  moreHotkeys?: readonly string[];
  /** Default 90 s. */
  intervalMs?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  logger?: ChainLogger;
  onChange?: (change: MetagraphChange, hotkey: string) => void;
  now?: () => number;
}

interface Registration {
  uid: number | undefined;
  registeredAt: number | undefined;
  tracked: boolean;
}

/** Events: "snapshot" (MetagraphSnapshot), "change" (MetagraphChange, hotkey), "refresh-failed" (Error). */
export class MetagraphWatcher extends EventEmitter implements MetagraphSource {
  readonly #options: MetagraphWatcherOptions;
  readonly #logger: ChainLogger;
  readonly #now: () => number;
  /** Registration state per watched hotkey, the first one first. */
  readonly #registrations = new Map<string, Registration>();
  #snapshot: MetagraphSnapshot | undefined;
  #takenAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<boolean> | undefined;
  #stopped = false;
  #lastError: Error | undefined;

  constructor(options: MetagraphWatcherOptions) {
    super();
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    for (const hotkey of [...(options.hotkey ? [options.hotkey] : []), ...(options.moreHotkeys ?? [])]) {
      this.#registrations.set(normaliseHotkey(hotkey), { uid: undefined, registeredAt: undefined, tracked: false });
    }
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

  /** Our (first hotkey's) uid, undefined when not registered (or no hotkey given). */
  get uid(): number | undefined {
    return this.#registrations.values().next().value?.uid;
  }

  get registered(): boolean {
    return this.uid !== undefined;
  }

  /** The uid of any watched hotkey, undefined when it is not registered or not watched. */
  uidOf(hotkey: string): number | undefined {
    return this.#registrations.get(normaliseHotkey(hotkey))?.uid;
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
      const hotkeys = [...this.#registrations.keys()];
      const [data, ...uids] = await Promise.all([
        readMetagraph(api, netuid, { timeoutMs }),
        ...hotkeys.map((hotkey) => readOwnUid(api, netuid, hotkey, { timeoutMs })),
      ]);
      const snapshot = new MetagraphSnapshot(data);
      this.#snapshot = snapshot;
      this.#takenAt = this.#now();
      this.#lastError = undefined;
      for (const [i, hotkey] of hotkeys.entries()) this.#track(hotkey, uids[i], snapshot);
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

  #track(hotkey: string, uid: number | undefined, snapshot: MetagraphSnapshot): void {
    const state = this.#registrations.get(hotkey) as Registration;
    const previous = state.uid;
    const first = !state.tracked;
    state.tracked = true;
    const registeredAt = snapshot.neuron(hotkey)?.blockAtRegistration;
    state.uid = uid;
    const changes: MetagraphChange[] = [];
    if (uid === undefined) {
      if (first || previous !== undefined) {
        this.#logger.error("ALERT: hotkey is not registered on the subnet; validators will not query this miner", {
          alert: true,
          hotkey,
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
      state.registeredAt !== undefined &&
      registeredAt !== state.registeredAt
    ) {
      // Same uid, new registration block: pruned and registered again between two refreshes.
      changes.push({ kind: "reregistered", uid, blockAtRegistration: registeredAt });
    }
    state.registeredAt = uid === undefined ? undefined : registeredAt;
    for (const change of changes) this.emit("change", change, hotkey);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.refresh().finally(() => this.#schedule());
    }, this.#options.intervalMs ?? 90_000);
    this.#timer.unref();
  }
}
