// Bounded admission to the scorer: at most `maxConcurrent` tasks run; up to `maxQueued` wait, highest caller stake
// first (FIFO among equals). When full, the lowest-stake waiter loses its place to a higher-stake newcomer.

export class QueueFullError extends Error {
  override readonly name = "QueueFullError";
}

export interface GateLimits {
  maxConcurrent: number;
  maxQueued: number;
}

interface Waiter {
  priority: number;
  seq: number;
  start: () => void;
  reject: (error: unknown) => void;
}

export class PriorityGate {
  readonly #limits: GateLimits;
  readonly #waiting: Waiter[] = []; // sorted: highest priority first, then arrival order
  #active = 0;
  #seq = 0;

  constructor(limits: GateLimits) {
    this.#limits = limits;
  }

  get active(): number {
    return this.#active;
  }

  get depth(): number {
    return this.#waiting.length;
  }

  /**
   * Runs `task` once a slot is free. Rejects with QueueFullError when there is no room, or with `signal.reason` if the
   * signal aborts while waiting. The slot is held until `task` settles, even if the caller stopped waiting for it, so
   * concurrency stays honest when a scorer ignores its abort signal.
   */
  run<T>(priority: number, signal: AbortSignal, task: () => Promise<T>): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        signal.removeEventListener("abort", onAbort);
        this.#active++;
        let settled: Promise<T>;
        try {
          settled = task();
        } catch (error) {
          settled = Promise.reject(error);
        }
        // Release before settling the caller, so a caller that awaited the task sees the slot free.
        const release = () => {
          this.#active--;
          this.#next();
        };
        settled.then(
          (value) => {
            release();
            resolve(value);
          },
          (error: unknown) => {
            release();
            reject(error);
          },
        );
      };
      const waiter: Waiter = {
        priority,
        seq: this.#seq++,
        start,
        reject: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      const onAbort = () => {
        const i = this.#waiting.indexOf(waiter);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal.reason);
      };
      if (this.#active < this.#limits.maxConcurrent && this.#waiting.length === 0) {
        start();
        return;
      }
      if (this.#waiting.length >= this.#limits.maxQueued) {
        const lowest = this.#waiting.at(-1);
        if (!lowest || lowest.priority >= priority) {
          reject(new QueueFullError("scoring queue is full"));
          return;
        }
        this.#waiting.pop();
        lowest.reject(new QueueFullError("scoring queue is full; displaced by a caller with more stake"));
      }
      signal.addEventListener("abort", onAbort, { once: true });
      this.#insert(waiter);
    });
  }

  #insert(waiter: Waiter): void {
    // Binary search for the first waiter with strictly lower priority.
    let lo = 0;
    let hi = this.#waiting.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#waiting[mid]!.priority >= waiter.priority) lo = mid + 1;
      else hi = mid;
    }
    this.#waiting.splice(lo, 0, waiter);
  }

  #next(): void {
    while (this.#active < this.#limits.maxConcurrent) {
      const waiter = this.#waiting.shift();
      if (!waiter) return;
      waiter.start();
    }
  }
}
