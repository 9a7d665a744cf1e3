// Last accepted nonce per `hotkey:uuid` endpoint key, bounded in time and size.
// Forgetting a key is safe: it becomes first-seen again, and a first-seen nonce must pass the freshness window.

export interface NonceStoreOptions {
  /** Forget keys not updated for this long (default 1 h). */
  ttlMs?: number;
  /** Hard bound on remembered keys; the least recently updated is dropped first (default 100 000). */
  maxEntries?: number;
  /** Clock in ms (injectable for tests). */
  now?: () => number;
}

interface Entry {
  nonce: bigint;
  at: number;
}

export class NonceStore {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** Insertion order = order of last update, so the oldest entry is always first. */
  readonly #entries = new Map<string, Entry>();

  constructor({ ttlMs = 3_600_000, maxEntries = 100_000, now = Date.now }: NonceStoreOptions = {}) {
    if (!(ttlMs > 0) || !Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError("NonceStore needs ttlMs > 0 and an integer maxEntries >= 1");
    }
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  /** The last accepted nonce for `key`, or undefined when never seen or idle past the TTL. */
  get(key: string): bigint | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() - entry.at >= this.#ttlMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.nonce;
  }

  /** Records an accepted nonce (moves the key to the young end), then drops expired and excess keys. */
  set(key: string, nonce: bigint): void {
    const now = this.#now();
    this.#entries.delete(key);
    this.#entries.set(key, { nonce, at: now });
    this.#evict(now);
  }

  get size(): number {
    return this.#entries.size;
  }

  #evict(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size > this.#maxEntries || now - entry.at >= this.#ttlMs) this.#entries.delete(key);
      else break;
    }
  }
}
