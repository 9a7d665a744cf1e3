// Per-hotkey token bucket. Applied after signature verification, so a stranger cannot drain a validator's bucket, and
// refunded when the request is not served (deadline, busy, client gone): a validator pays only for answers it got.

export interface RateLimitPolicy {
  burst: number;
  refillPerSecond: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterS: number };

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Buckets are pruned once full again, so memory tracks the callers active in the last burst/refill seconds. */
export class HotkeyRateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #policy: RateLimitPolicy;
  readonly #nowMs: () => number;

  constructor(policy: RateLimitPolicy, nowMs: () => number = () => performance.now()) {
    this.#policy = policy;
    this.#nowMs = nowMs;
  }

  take(hotkey: string): RateDecision {
    const now = this.#nowMs();
    const { burst, refillPerSecond } = this.#policy;
    let bucket = this.#buckets.get(hotkey);
    if (!bucket) {
      if (this.#buckets.size >= 10_000) this.#prune(now);
      bucket = { tokens: burst, updatedMs: now };
      this.#buckets.set(hotkey, bucket);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedMs) / 1000) * refillPerSecond);
      bucket.updatedMs = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterS: (1 - bucket.tokens) / refillPerSecond };
  }

  /** Gives back the token of a request that was not served. */
  refund(hotkey: string): void {
    const bucket = this.#buckets.get(hotkey);
    if (bucket) bucket.tokens = Math.min(this.#policy.burst, bucket.tokens + 1);
  }

  get size(): number {
    return this.#buckets.size;
  }

  #prune(now: number): void {
    const { burst, refillPerSecond } = this.#policy;
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((now - b.updatedMs) / 1000) * refillPerSecond >= burst) this.#buckets.delete(key);
    }
  }
}
