// Keeps the axon announced on chain: ensureServing at start, again when the configured address changes, and again
// when the watcher sees our hotkey (re-)registered or moved; a rate-limited attempt is retried at the block the
// chain allows, a failed one after a pause. Runs are serialized so two serve_axon calls never race.
import { EventEmitter } from "node:events";
import type { ApiPromise } from "@polkadot/api";
import type { KeyringPair } from "@polkadot/keyring/types";
import type { ChainLogger } from "./logger.ts";
import { silentLogger } from "./logger.ts";
import { normaliseHotkey } from "./metagraph-reader.ts";
import type { MetagraphChange } from "./metagraph-watcher.ts";
import {
  BLOCK_SECONDS,
  type DesiredAxon,
  type EnsureServingResult,
  ensureServing,
  ServeAxonError,
  serveParams,
} from "./serve-axon.ts";

export interface AxonAnnouncerOptions {
  api: ApiPromise;
  netuid: number;
  hotkey: KeyringPair;
  desired: DesiredAxon;
  /** A MetagraphWatcher (or anything emitting its "change" events). */
  watcher?: Pick<EventEmitter, "on" | "off">;
  logger?: ChainLogger;
  timeoutMs?: number;
  /** Block time used to turn "blocks to wait" into a delay (12 s on finney, 250 ms on a fast-runtime localnet). */
  blockMs?: number;
  /** Pause after a failed attempt. */
  retryMs?: number;
}

/** Events: "result" (EnsureServingResult), "failed" (Error). */
export class AxonAnnouncer extends EventEmitter {
  readonly #options: AxonAnnouncerOptions;
  readonly #logger: ChainLogger;
  #desired: DesiredAxon;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #last: EnsureServingResult | undefined;
  readonly #onChange = (change: MetagraphChange, hotkey?: string) => {
    // A watcher shared by several hotkeys' announcers names whose registration changed.
    if (hotkey !== undefined && normaliseHotkey(hotkey) !== normaliseHotkey(this.#options.hotkey.address)) return;
    if (change.kind === "deregistered") return; // the watcher raises the alert; nothing to serve until registered
    this.#logger.info("registration changed; re-checking the on-chain axon", { change: change.kind });
    this.trigger();
  };

  constructor(options: AxonAnnouncerOptions) {
    super();
    serveParams(options.netuid, options.desired); // fail fast on a bad address
    this.#options = options;
    this.#desired = options.desired;
    this.#logger = options.logger ?? silentLogger;
    options.watcher?.on("change", this.#onChange);
  }

  get lastResult(): EnsureServingResult | undefined {
    return this.#last;
  }

  get desired(): DesiredAxon {
    return this.#desired;
  }

  /** First announcement; resolves when that attempt finished (served, skipped, rate-limited or failed). */
  async start(): Promise<void> {
    this.trigger();
    await this.#running;
  }

  /** The public address or port changed (e.g. a new Elastic IP). */
  async updateDesired(desired: DesiredAxon): Promise<void> {
    serveParams(this.#options.netuid, desired);
    this.#desired = desired;
    this.trigger();
    await this.#running;
  }

  /** Schedules an attempt now (coalesced with one in progress). */
  trigger(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#options.watcher?.off("change", this.#onChange);
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      await this.#attempt();
    } while (this.#again && !this.#stopped);
  }

  async #attempt(): Promise<void> {
    const { api, netuid, hotkey, timeoutMs } = this.#options;
    try {
      const result = await ensureServing({
        api,
        netuid,
        hotkey,
        desired: this.#desired,
        logger: this.#logger,
        timeoutMs,
      });
      this.#last = result;
      if (result.action === "rate-limited") {
        const blockMs = this.#options.blockMs ?? BLOCK_SECONDS * 1000;
        this.#retryIn((result.rateLimit.blocksToWait + 1) * blockMs);
      }
      this.emit("result", result);
    } catch (error) {
      const unregistered = error instanceof ServeAxonError && /NotRegistered/.test(error.code);
      this.#logger.error("serve_axon attempt failed", { error: (error as Error).message, netuid });
      // Not registered: wait for the watcher's "registered" event instead of polling the chain.
      if (!unregistered || !this.#options.watcher) this.#retryIn(this.#options.retryMs ?? 60_000);
      this.emit("failed", error);
    }
  }

  #retryIn(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.trigger(), ms);
    this.#timer.unref();
  }
}
