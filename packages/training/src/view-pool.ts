// Validator-format views drawn on worker threads. The same function as challengeView for stored frames (the same
// seed gives the same bytes), spread over `size` threads; with size 0 it is challengeView on this thread. The
// workers also decode views (or given bytes) into the backbone's pixels (backbonePixels), and through `feed` write
// them straight into an extractor's shared batch buffers, one message per chunk of rows: at thousands of images a
// second a message, a promise and a row copy per image on the trainer's thread were what held the GPU back.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ChallengeFormat } from "@roadwork/data";
import type { Preprocessing, RgbImage } from "@roadwork/inference";
import { backbonePixels } from "./backbone-pixels.ts";
import { jobBytes, type PixelJob, type RowFeed, writeJobRow } from "./batch-rows.ts";
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

  /**
   * The images `job(0)`, `job(1)`, … as a RowFeed for EmbeddingExtractor.embed: each batch is cut into chunks of
   * rows that the workers decode and write into the batch's shared buffer; with no workers, this thread does it with
   * the same functions (the same bytes in the batch either way).
   */
  feed(job: (index: number) => PixelJob | Promise<PixelJob>): RowFeed {
    return {
      fill: async (first, n, target) => {
        const rows = Array.from({ length: n }, (_, i) => i);
        if (this.size === 0) {
          firstError(await Promise.allSettled(rows.map(async (i) => writeJobRow(await job(first + i), target, i))));
          return;
        }
        // About two chunks per worker per batch: few messages, and a slow chunk still leaves the others busy.
        const chunk = Math.max(1, Math.min(64, Math.ceil(n / (2 * this.size))));
        const sends: Promise<unknown>[] = [];
        for (let row = 0; row < n; row += chunk) {
          const count = Math.min(chunk, n - row);
          sends.push(
            Promise.all(Array.from({ length: count }, (_, i) => job(first + row + i))).then((jobs) =>
              this.#send({ rows: { jobs: jobs.map(owning), target, first: row } }),
            ),
          );
        }
        firstError(await Promise.allSettled(sends));
      },
      image: async (index, preprocessing) => {
        const j = await job(index);
        if (this.size === 0) return backbonePixels(await jobBytes(j), preprocessing);
        return "bytes" in j
          ? this.decode(j.bytes, preprocessing)
          : this.renderPixels(j.path, j.format, j.seed, preprocessing);
      },
    } satisfies RowFeed;
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

/** The first failure in row order (not the first to arrive), so a batch fails with the same error on any thread count. */
function firstError(results: PromiseSettledResult<unknown>[]): void {
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

/**
 * Bytes that can be cloned to a worker without their whole backing store (a Buffer may be a view of a larger pool:
 * postMessage would copy all of it).
 */
const owning = (job: PixelJob): PixelJob =>
  "bytes" in job && job.bytes.byteLength !== job.bytes.buffer.byteLength ? { bytes: new Uint8Array(job.bytes) } : job;
