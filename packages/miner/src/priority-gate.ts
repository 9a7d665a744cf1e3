// Bounded admission to the scorer (and to the signature checks): at most `maxConcurrent` tasks run, together costing at
// most `maxCost` (decoded pixels, for the scorer); up to `maxQueued` wait, highest priority (caller stake) first, FIFO
// among equals. When full, the lowest-priority waiter loses its place to a higher-priority newcomer. A waiter whose
// cost does not fit yet lets cheaper ones behind it start: a big image never holds small ones back.

export class QueueFullError extends Error {
  override readonly name = "QueueFullError";
}

export interface GateLimits {
  maxConcurrent: number;
  maxQueued: number;
  /** Total cost of the tasks running at once (default unbounded); a task costing more is charged this much. */
  maxCost?: number;
}

interface Waiter {
  priority: number;
  cost: number;
  seq: number;
  start: () => void;
  reject: (error: unknown) => void;
}

export class PriorityGate {
  readonly #limits: GateLimits;
  readonly #waiting: Waiter[] = []; // sorted: highest priority first, then arrival order
  #active = 0;
  #cost = 0;
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

  /** Cost of the tasks running now. */
  get cost(): number {
    return this.#cost;
  }

  /**
   * Runs `task` once a slot is free. Rejects with QueueFullError when there is no room, or with `signal.reason` if the
   * signal aborts while waiting. The slot is held until `task` settles, even if the caller stopped waiting for it, so
   * concurrency stays honest when a scorer ignores its abort signal.
   */
  run<T>(priority: number, signal: AbortSignal, task: () => Promise<T>, cost = 0): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const charge = Math.min(Math.max(0, cost), this.#limits.maxCost ?? Number.POSITIVE_INFINITY);
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        signal.removeEventListener("abort", onAbort);
        this.#active++;
        this.#cost += charge;
        let settled: Promise<T>;
        try {
          settled = task();
        } catch (error) {
          settled = Promise.reject(error);
        }
        // Release before settling the caller, so a caller that awaited the task sees the slot free.
        const release = () => {
          this.#active--;
          this.#cost -= charge;
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
        cost: charge,
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
      // Anyone waiting either lacks a slot (then so does this task) or does not fit the cost budget.
      if (this.#active < this.#limits.maxConcurrent && this.#fits(charge)) {
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

  #fits(cost: number): boolean {
    return this.#limits.maxCost === undefined || this.#cost + cost <= this.#limits.maxCost;
  }

  #next(): void {
    for (let i = 0; i < this.#waiting.length && this.#active < this.#limits.maxConcurrent; ) {
      const waiter = this.#waiting[i]!;
      if (!this.#fits(waiter.cost)) {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      waiter.start();
    }
  }
}
