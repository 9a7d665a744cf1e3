// Validator-format views drawn on worker threads. The same function as challengeView for stored frames (the same
// seed gives the same bytes), spread over `size` threads; with size 0 it is challengeView on this thread. The
// workers also decode views (or given bytes) into the backbone's pixels (backbonePixels), so a trainer's thread only
// copies rows into its batches.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ChallengeFormat } from "@roadwork/data";
import type { Preprocessing, RgbImage } from "@roadwork/inference";
import type { ViewReply, ViewRequest } from "./view-worker.ts";

type Request = ViewRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

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
  readonly #waiting = new Map<number, { resolve(r: ViewReply): void; reject(e: Error): void }>();
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
        else wait.resolve(reply);
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
  async render(path: string, format: ChallengeFormat, seed: string): Promise<Buffer> {
    const reply = await this.#send({ path, format, seed });
    if (!("jpeg" in reply)) throw new Error("view worker answered without a view");
    return Buffer.from(reply.jpeg.buffer, reply.jpeg.byteOffset, reply.jpeg.byteLength);
  }

  /** That view decoded into the backbone's pixels (backbonePixels) on the worker: no decode on this thread. */
  renderPixels(path: string, format: ChallengeFormat, seed: string, preprocessing: Preprocessing): Promise<RgbImage> {
    return this.#pixels({ path, format, seed, pixels: preprocessing });
  }

  /** Encoded bytes decoded into the backbone's pixels on a worker (the bytes are copied to it). */
  decode(bytes: Uint8Array, preprocessing: Preprocessing): Promise<RgbImage> {
    return this.#pixels({ bytes, pixels: preprocessing });
  }

  async #pixels(request: Request): Promise<RgbImage> {
    const reply = await this.#send(request);
    if (!("pixels" in reply)) throw new Error("view worker answered without pixels");
    return reply.pixels;
  }

  #send(request: Request): Promise<ViewReply> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#workers.length === 0) return Promise.reject(new Error("a ViewPool of size 0 has no workers"));
    let pick = 0;
    for (let i = 1; i < this.#workers.length; i++) if (this.#load[i]! < this.#load[pick]!) pick = i;
    const id = this.#next++;
    this.#load[pick]!++;
    this.#workers[pick]!.ref();
    return new Promise<ViewReply>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#workers[pick]!.postMessage({ id, ...request } as ViewRequest);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
