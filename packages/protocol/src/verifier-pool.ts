// sr25519 verification off the event loop: each check costs ~0.3 ms of WASM (two for a forged one: raw, then
// <Bytes>-wrapped), which on the main thread lets a flood of forged requests take the event loop from every other
// request. A small pool of worker threads runs the curve arithmetic; the nonce bookkeeping stays on the main thread
// (verifyRequestAsync).
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { verifySignatureBytes } from "./signature.ts";

/** Verifies sr25519 with verifySignatureBytes semantics; resolves false on any defect. */
export interface SignatureVerifier {
  verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): Promise<boolean>;
}

/** The same check on the calling thread (tests, tools, and axons configured for it). */
export const inlineSignatureVerifier: SignatureVerifier = {
  verify: async (message, signature, publicKey) => verifySignatureBytes(message, signature, publicKey),
};

export class VerifierUnavailableError extends Error {
  override readonly name = "VerifierUnavailableError";
}

export interface SignatureVerifierPoolOptions {
  /** Worker threads (default min(2, cores - 1), at least 1). */
  size?: number;
  /** The worker script (default: sr25519-verify-worker.mjs beside this module). */
  workerUrl?: URL;
}

interface Task {
  id: number;
  resolve: (ok: boolean) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  pending: Map<number, Task>;
}

export function defaultPoolSize(): number {
  return Math.max(1, Math.min(2, availableParallelism() - 1));
}

export class SignatureVerifierPool implements SignatureVerifier {
  readonly size: number;
  readonly #workerUrl: URL;
  readonly #slots: (Slot | undefined)[];
  #nextId = 1;
  #closed = false;

  constructor(options: SignatureVerifierPoolOptions = {}) {
    const size = options.size ?? defaultPoolSize();
    if (!Number.isInteger(size) || size < 1 || size > 64) throw new RangeError(`pool size must be 1..64, got ${size}`);
    this.size = size;
    this.#workerUrl = options.workerUrl ?? new URL("./sr25519-verify-worker.mjs", import.meta.url);
    this.#slots = Array.from({ length: size }, () => undefined);
  }

  /** Starts every worker now (otherwise on first use); resolves when all have loaded the sr25519 backend. */
  async start(): Promise<void> {
    await Promise.all(this.#slots.map((_, i) => this.#slot(i).ready));
  }

  /** Tasks waiting in the workers. */
  get pending(): number {
    return this.#slots.reduce((n, s) => n + (s?.pending.size ?? 0), 0);
  }

  async verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): Promise<boolean> {
    if (this.#closed) throw new VerifierUnavailableError("the signature verifier pool is closed");
    // Least loaded worker; slots start lazily.
    let best = 0;
    for (let i = 1; i < this.size; i++) {
      if ((this.#slots[i]?.pending.size ?? 0) < (this.#slots[best]?.pending.size ?? 0)) best = i;
    }
    const slot = this.#slot(best);
    await slot.ready;
    const id = this.#nextId++;
    return new Promise<boolean>((resolve, reject) => {
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { id, resolve, reject });
      slot.worker.postMessage({ id, message, signature, publicKey });
    });
  }

  /** Stops the workers; tasks still waiting are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(
      this.#slots.map(async (slot, i) => {
        this.#slots[i] = undefined;
        if (!slot) return;
        this.#fail(slot, new VerifierUnavailableError("the signature verifier pool closed"));
        await slot.worker.terminate();
      }),
    );
  }

  #slot(i: number): Slot {
    const existing = this.#slots[i];
    if (existing) return existing;
    const worker = new Worker(this.#workerUrl);
    const pending = new Map<number, Task>();
    let markReady!: () => void;
    let failStart!: (error: unknown) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    ready.catch(() => {}); // a failed start is reported to each caller that awaits it
    const slot: Slot = { worker, ready, pending };
    worker.on("message", (m: { ready?: true; id?: number; ok?: boolean }) => {
      if (m.ready) {
        markReady();
        worker.unref(); // an idle pool never keeps the process alive
        return;
      }
      const task = m.id === undefined ? undefined : pending.get(m.id);
      if (!task) return;
      pending.delete(task.id);
      if (pending.size === 0) worker.unref();
      task.resolve(m.ok === true);
    });
    const broken = (error: unknown) => {
      // Forget the worker; the next call starts a fresh one. Its callers get an error (500), never a verdict.
      if (this.#slots[i] === slot) this.#slots[i] = undefined;
      const e = new VerifierUnavailableError(`signature verifier worker failed: ${(error as Error)?.message ?? error}`);
      failStart(e);
      this.#fail(slot, e);
    };
    worker.on("error", broken);
    worker.on("exit", (code) => {
      if (!this.#closed) broken(new Error(`exited with code ${code}`));
    });
    this.#slots[i] = slot;
    return slot;
  }

  #fail(slot: Slot, error: Error): void {
    for (const task of slot.pending.values()) task.reject(error);
    slot.pending.clear();
  }
}

let shared: SignatureVerifierPool | undefined;

/** One pool per process, started on first call; axons share it. */
export function sharedSignatureVerifierPool(): SignatureVerifierPool {
  shared ??= new SignatureVerifierPool();
  return shared;
}
