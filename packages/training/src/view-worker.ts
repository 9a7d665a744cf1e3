// A worker thread of ViewPool: renders validator-format views (formatChallenge) of stored images and, when asked,
// decodes them (or given bytes) into the backbone's pixels. The jan/apr augmentations are JavaScript raster work and
// so is the geometry after the decode, so on a many-core GPU host the input, not the backbone, sets the pace unless
// both run on several threads. A 224×224 view's JPEG is decoded here, synchronously, by the WebAssembly libjpeg-turbo
// (decodeImage's "auto" on a worker thread), not queued on the process's one libuv pool with every other worker's.
// Asked for rows, it writes a chunk of a batch straight into the batch's shared buffer (batch-rows.ts) and answers
// once for the chunk, so the trainer's thread handles no pixels at all.
import { readFile } from "node:fs/promises";
import { parentPort } from "node:worker_threads";
import { type ChallengeFormat, formatChallenge, Prng } from "@roadwork/data";
import type { Preprocessing } from "@roadwork/inference";
import { backbonePixels } from "./backbone-pixels.ts";
import { type BatchTarget, type PixelJob, writeJobRow } from "./batch-rows.ts";

/** Jobs written as rows `first` … of a shared batch buffer. */
export interface RowsRequest {
  jobs: PixelJob[];
  target: BatchTarget;
  first: number;
}

export type ViewRequest =
  | { id: number; path: string; format: ChallengeFormat; seed: string; pixels?: Preprocessing }
  | { id: number; bytes: Uint8Array; pixels: Preprocessing }
  | { id: number; rows: RowsRequest };

/** Decoded pixels as they cross threads (RgbImage's fields; `data` transferred). */
export interface PixelsReply {
  data: Uint8Array;
  width: number;
  height: number;
  format: string;
}

export type ViewReply =
  | { id: number; jpeg: Uint8Array }
  | { id: number; pixels: PixelsReply }
  | { id: number; rows: number }
  | { id: number; error: string };

/** A copy that owns its whole buffer, so it can be transferred (sharp's outputs may be views of a shared pool). */
const owned = (a: Uint8Array): Uint8Array =>
  a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer ? a : new Uint8Array(a);

parentPort?.on("message", async (req: ViewRequest) => {
  try {
    if ("rows" in req) {
      // In order, so the error answered is the chunk's first failing image's, as a batch built on one thread reports.
      const { jobs, target, first } = req.rows;
      for (const [i, job] of jobs.entries()) await writeJobRow(job, target, first + i);
      parentPort?.postMessage({ id: req.id, rows: jobs.length } satisfies ViewReply);
      return;
    }
    const bytes =
      "bytes" in req
        ? req.bytes
        : (await formatChallenge(await readFile(req.path), req.format, new Prng(req.seed))).jpeg;
    if (req.pixels) {
      const g = await backbonePixels(bytes, req.pixels);
      const data = owned(g.data);
      const pixels: PixelsReply = { data, width: g.width, height: g.height, format: g.format };
      parentPort?.postMessage({ id: req.id, pixels } satisfies ViewReply, [data.buffer as ArrayBuffer]);
    } else {
      const jpeg = new Uint8Array(bytes); // a copy that owns its buffer, so it can be transferred
      parentPort?.postMessage({ id: req.id, jpeg } satisfies ViewReply, [jpeg.buffer]);
    }
  } catch (error) {
    parentPort?.postMessage({ id: req.id, error: (error as Error).message } satisfies ViewReply);
  }
});
