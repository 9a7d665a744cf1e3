// Batch rows written where the pixels are decoded: a view worker (or this thread, without workers) turns an image
// into the backbone's pixels and writes them straight into a batch buffer shared between threads, so the trainer's
// thread handles one message per chunk of rows instead of one per image and never copies a row itself.
import { readFile } from "node:fs/promises";
import { type ChallengeFormat, formatChallenge, Prng } from "@roadwork/data";
import { type Preprocessing, type RgbImage, writeHwc, writeNormalized } from "@roadwork/inference";
import { backbonePixels } from "./backbone-pixels.ts";

/** An image to embed: encoded bytes, or the view of a stored frame drawn with a seed (formatChallenge, as challengeView). */
export type PixelJob = { bytes: Uint8Array } | { path: string; format: ChallengeFormat; seed: string };

/** A batch buffer shared between threads, and how a row is laid out in it. */
export interface BatchTarget {
  buffer: SharedArrayBuffer;
  /** uint8 NHWC rows for the in-graph preprocessing, or rescaled + normalized float32 CHW rows. */
  layout: "nhwc-uint8" | "nchw-float";
  preprocessing: Preprocessing;
  height: number;
  width: number;
}

/** An image source that writes whole batch rows itself (ViewPool.feed): no pixels pass through the caller's thread. */
export interface RowFeed {
  /** Writes images `first` … `first + n − 1` as rows 0 … n − 1 of `target`; rejects with the first failing image's error. */
  fill(first: number, n: number, target: BatchTarget): Promise<void>;
  /** One image as encoded bytes or pixels, for a preprocessing whose output size is not fixed (no row size to share). */
  image(index: number, preprocessing: Preprocessing): Promise<Uint8Array | RgbImage>;
}

/** The encoded bytes of a job: given, or the view drawn from the stored frame (the bytes challengeView returns). */
export async function jobBytes(job: PixelJob): Promise<Uint8Array> {
  if ("bytes" in job) return job.bytes;
  return (await formatChallenge(await readFile(job.path), job.format, new Prng(job.seed))).jpeg;
}

/** Decodes a job into the backbone's pixels and writes them as row `row` of the target. */
export async function writeJobRow(job: PixelJob, target: BatchTarget, row: number): Promise<void> {
  writeRow(await backbonePixels(await jobBytes(job), target.preprocessing), target, row);
}

/** Writes geometry-stage pixels as one batch row: the same writeHwc / writeNormalized as a batch built on one thread. */
export function writeRow(g: RgbImage, target: BatchTarget, row: number): void {
  const length = 3 * target.height * target.width;
  if (g.data.length !== length || g.height !== target.height || g.width !== target.width) {
    throw new Error("preprocessing produced tensors of different sizes in one batch");
  }
  if (target.layout === "nhwc-uint8") writeHwc(g, new Uint8Array(target.buffer), row * length);
  else writeNormalized(g, target.preprocessing, new Float32Array(target.buffer), row * length);
}
