// One request's time budget: min(caller timeout, cap) from arrival. Past it the validator has given up, so the axon
// stops waiting (queue, scorer, slow body) and answers 408 at once. A closed client connection ends waiting too.

export class DeadlineExceededError extends Error {
  override readonly name = "DeadlineExceededError";
  constructor(
    readonly seconds: number,
    readonly duringBody = false,
  ) {
    super(
      duringBody
        ? `Request body not received within ${pyFloatText(seconds)}s`
        : `Response timeout after: ${pyFloatText(seconds)}s`,
    );
  }
}

class ClientClosedError extends Error {
  override readonly name = "ClientClosedError";
}

export interface DeadlinePolicy {
  maxTimeoutS: number;
  defaultTimeoutS: number;
}

export class RequestDeadline {
  readonly #controller = new AbortController();
  readonly #policy: DeadlinePolicy;
  readonly #client: AbortSignal | undefined;
  readonly #arrival = performance.now();
  #timer: NodeJS.Timeout | undefined;
  #seconds = 0;
  readonly #onClientAbort = () => this.#controller.abort(new ClientClosedError("client closed the connection"));

  constructor(policy: DeadlinePolicy, clientSignal?: AbortSignal) {
    this.#policy = policy;
    this.#client = clientSignal;
    if (clientSignal?.aborted) this.#onClientAbort();
    else clientSignal?.addEventListener("abort", this.#onClientAbort, { once: true });
  }

  /** Aborts when the deadline passes or the client leaves; hand it to everything that waits. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get seconds(): number {
    return this.#seconds;
  }

  get clientGone(): boolean {
    return this.#client?.aborted === true;
  }

  /** Arms the timer from the caller's `timeout` header (already clamped finite by the header parser). */
  start(timeoutS: number): void {
    const { maxTimeoutS, defaultTimeoutS } = this.#policy;
    this.#seconds = Math.min(timeoutS > 0 ? timeoutS : defaultTimeoutS, maxTimeoutS);
    const remainingMs = Math.max(0, this.#seconds * 1000 - (performance.now() - this.#arrival));
    this.#timer = setTimeout(() => this.#controller.abort(new DeadlineExceededError(this.#seconds)), remainingMs);
  }

  /** Resolves like `work`, unless the signal aborts first: then throws DeadlineExceededError (or the client error). */
  during<T>(phase: "verify" | "body" | "scoring", work: Promise<T>): Promise<T> {
    work.catch(() => {}); // a late rejection of the abandoned side must not become unhandled
    const signal = this.#controller.signal;
    const toError = (): Error => {
      const reason = signal.reason;
      if (reason instanceof DeadlineExceededError) return new DeadlineExceededError(this.#seconds, phase === "body");
      return reason instanceof Error ? reason : new ClientClosedError(String(reason));
    };
    if (signal.aborted) return Promise.reject(toError());
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(toError());
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(
        (v) => {
          signal.removeEventListener("abort", onAbort);
          resolve(v);
        },
        (e) => {
          signal.removeEventListener("abort", onAbort);
          // The scorer/gate reject with the abort reason itself when the deadline passes: report the phase.
          reject(signal.aborted ? toError() : e);
        },
      );
    });
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#client?.removeEventListener("abort", this.#onClientAbort);
  }
}

/** Python `str(float)` for the common cases: 9 -> "9.0", 0.25 -> "0.25". */
function pyFloatText(seconds: number): string {
  return Number.isInteger(seconds) ? seconds.toFixed(1) : String(seconds);
}
