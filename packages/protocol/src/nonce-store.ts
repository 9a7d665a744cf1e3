// Accepted nonces per `hotkey:uuid` endpoint key, bounded in time and size, with an anti-replay sliding window.
//
// Python's axon accepts a nonce only when it is greater than the last one accepted for the key, so two requests of one
// dendrite that overlap on the wire (a challenge and an organic task) lose the later-arriving, lower one with 401.
// Like IPsec's anti-replay window, this store also accepts a nonce a little below the highest one accepted, provided
// it was never accepted before: every exact replay and everything at or below the window's floor is still refused.
// Forgetting a key is safe: it becomes first-seen again, and a first-seen nonce must pass the freshness window.

export interface NonceStoreOptions {
  /** Forget keys not updated for this long (default 1 h). */
  ttlMs?: number;
  /** Hard bound on remembered keys; the least recently updated is dropped first (default 100 000). */
  maxEntries?: number;
  /**
   * How far below the highest accepted nonce an unseen nonce is still accepted, in ns (nonces are `time.time_ns()`).
   * Default 4 s; 0 is Python's strict rule (each nonce must exceed the last).
   */
  windowNs?: bigint;
  /** Accepted nonces remembered per key inside the window; past this the floor rises to the oldest dropped (64). */
  maxPerKey?: number;
  /** Clock in ms (injectable for tests). */
  now?: () => number;
}

export type NonceVerdict = "first-seen" | "accepted" | "replayed";

interface Entry {
  /** Highest accepted nonce. */
  high: bigint;
  /** Everything at or below this is refused (raised when `seen` overflows). */
  floor: bigint;
  /** Accepted nonces above the floor and inside the window, ascending; the last one is `high`. */
  seen: bigint[];
  at: number;
}

export class NonceStore {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #windowNs: bigint;
  readonly #maxPerKey: number;
  readonly #now: () => number;
  /** Insertion order = order of last update, so the oldest entry is always first. */
  readonly #entries = new Map<string, Entry>();

  constructor({
    ttlMs = 3_600_000,
    maxEntries = 100_000,
    windowNs = 4_000_000_000n,
    maxPerKey = 64,
    now = Date.now,
  }: NonceStoreOptions = {}) {
    if (!(ttlMs > 0) || !Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError("NonceStore needs ttlMs > 0 and an integer maxEntries >= 1");
    }
    if (windowNs < 0n || !Number.isInteger(maxPerKey) || maxPerKey < 1) {
      throw new RangeError("NonceStore needs windowNs >= 0 and an integer maxPerKey >= 1");
    }
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
    this.#windowNs = windowNs;
    this.#maxPerKey = maxPerKey;
    this.#now = now;
  }

  get windowNs(): bigint {
    return this.#windowNs;
  }

  /** The highest accepted nonce for `key`, or undefined when never seen or idle past the TTL. */
  get(key: string): bigint | undefined {
    return this.#entry(key)?.high;
  }

  /**
   * Whether `nonce` may be accepted for `key` (nothing is recorded): "first-seen" (the caller applies the freshness
   * rule), "accepted" (above the highest, or unseen inside the window) or "replayed" (seen before, or too old).
   */
  check(key: string, nonce: bigint): NonceVerdict {
    const entry = this.#entry(key);
    if (entry === undefined) return "first-seen";
    if (nonce > entry.high) return "accepted";
    if (nonce <= entry.floor || nonce <= entry.high - this.#windowNs) return "replayed";
    return binarySearch(entry.seen, nonce) >= 0 ? "replayed" : "accepted";
  }

  /** Records an accepted nonce (moves the key to the young end), then drops expired and excess keys. */
  set(key: string, nonce: bigint): void {
    const now = this.#now();
    const existing = this.#entry(key);
    const entry: Entry = existing ?? { high: nonce, floor: nonce - 1n - this.#windowNs, seen: [], at: now };
    const i = binarySearch(entry.seen, nonce);
    if (i < 0) entry.seen.splice(~i, 0, nonce);
    if (nonce > entry.high) entry.high = nonce;
    const low = entry.high - this.#windowNs;
    let drop = 0;
    while (drop < entry.seen.length && entry.seen[drop]! <= low) drop++;
    while (entry.seen.length - drop > this.#maxPerKey) {
      // Too many remembered: refuse everything up to the oldest one forgotten, so it cannot be replayed.
      if (entry.seen[drop]! > entry.floor) entry.floor = entry.seen[drop]!;
      drop++;
    }
    if (drop > 0) entry.seen.splice(0, drop);
    entry.at = now;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#evict(now);
  }

  get size(): number {
    return this.#entries.size;
  }

  #entry(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() - entry.at >= this.#ttlMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #evict(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size > this.#maxEntries || now - entry.at >= this.#ttlMs) this.#entries.delete(key);
      else break;
    }
  }
}

/** Index of `x` in ascending `a`, or the bitwise complement of where it would be inserted. */
function binarySearch(a: readonly bigint[], x: bigint): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid]!;
    if (v < x) lo = mid + 1;
    else if (v > x) hi = mid - 1;
    else return mid;
  }
  return ~lo;
}
