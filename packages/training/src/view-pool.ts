// Validator-format views drawn on worker threads. The same function as challengeView for stored frames (the same
// seed gives the same bytes), spread over `size` threads; with size 0 it is challengeView on this thread.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ChallengeFormat } from "@roadwork/data";
import type { ViewReply, ViewRequest } from "./view-worker.ts";

/** Worker threads for `views` views: none for small runs (a worker's start costs more than it saves), else cores − 1. */
export function viewWorkersFor(views: number): number {
  const env = process.env.ROADWORK_VIEW_WORKERS;
  if (env !== undefined && env !== "") return Math.max(0, Math.trunc(Number(env)) || 0);
  return views < 2000 ? 0 : Math.min(15, Math.max(0, availableParallelism() - 1));
}

/** view-worker.mjs beside this module: in the source tree it loads view-worker.ts through tsx; in a bundle it is it. */
const WORKER = new URL("./view-worker.mjs", import.meta.url);

export class ViewPool {
  readonly #workers: Worker[] = [];
  readonly #waiting = new Map<number, { resolve(b: Buffer): void; reject(e: Error): void }>();
  readonly #load: number[] = [];
  #next = 0;
  #failed: Error | undefined;

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER);
      w.on("message", (reply: ViewReply) => {
        const wait = this.#waiting.get(reply.id);
        if (!wait) return;
        this.#waiting.delete(reply.id);
        this.#load[i] = (this.#load[i] ?? 1) - 1;
        if (this.#load[i] === 0) w.unref(); // an idle pool never keeps the process alive
        if ("error" in reply) wait.reject(new Error(reply.error));
        else wait.resolve(Buffer.from(reply.jpeg.buffer, reply.jpeg.byteOffset, reply.jpeg.byteLength));
      });
      // A worker that dies takes its requests with it: fail them all rather than wait forever.
      w.on("error", (error) => this.#fail(error));
      w.on("exit", (code) => {
        if (code !== 0) this.#fail(new Error(`view worker exited with code ${code}`));
      });
      w.unref();
      this.#workers.push(w);
      this.#load.push(0);
    }
  }

  #fail(error: Error): void {
    this.#failed ??= error;
    for (const w of this.#waiting.values()) w.reject(error);
    this.#waiting.clear();
  }

  /** The view of the image at `path` in `format`, drawn with `seed`, on the least busy worker. */
  render(path: string, format: ChallengeFormat, seed: string): Promise<Buffer> {
    if (this.#failed) return Promise.reject(this.#failed);
    let pick = 0;
    for (let i = 1; i < this.#workers.length; i++) if (this.#load[i]! < this.#load[pick]!) pick = i;
    const id = this.#next++;
    this.#load[pick]!++;
    this.#workers[pick]!.ref();
    return new Promise<Buffer>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#workers[pick]!.postMessage({ id, path, format, seed } satisfies ViewRequest);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
