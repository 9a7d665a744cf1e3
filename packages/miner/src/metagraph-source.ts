// Where the axon reads its current view of the subnet. A file-backed source serves `roadwork serve`; the chain watcher
// swaps snapshots in production through `replace`.
import type { MetagraphSnapshot } from "@roadwork/chain/snapshot";

export interface MetagraphSource {
  current(): MetagraphSnapshot;
  /** Milliseconds since the current snapshot was read from the chain; undefined when unknown. */
  ageMs?(): number | undefined;
}

/** Holds one snapshot and lets a refresher swap in newer ones (the last good copy stays when a refresh fails). */
export class SwappableMetagraph implements MetagraphSource {
  #snapshot: MetagraphSnapshot;
  #loadedAtMs: number;
  readonly #nowMs: () => number;

  constructor(snapshot: MetagraphSnapshot, nowMs: () => number = Date.now) {
    this.#snapshot = snapshot;
    this.#nowMs = nowMs;
    this.#loadedAtMs = snapshot.data.takenAt ?? nowMs();
  }

  current(): MetagraphSnapshot {
    return this.#snapshot;
  }

  ageMs(): number {
    return Math.max(0, this.#nowMs() - this.#loadedAtMs);
  }

  replace(snapshot: MetagraphSnapshot): void {
    this.#snapshot = snapshot;
    this.#loadedAtMs = snapshot.data.takenAt ?? this.#nowMs();
  }
}
