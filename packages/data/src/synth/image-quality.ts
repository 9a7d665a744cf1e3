// Per-image measurements the quality gates decide on: decode + size, sharpness (variance of the Laplacian), exposure
// (share of clipped pixels), and a perceptual hash for near-duplicate detection.

import { createRequire } from "node:module";
import sharp, { type Metadata } from "sharp";

// sharp-phash is CommonJS with `module.exports = fn`; require keeps its call signature under NodeNext.
const require = createRequire(import.meta.url);
const phash = require("sharp-phash") as (image: Buffer) => Promise<string>;
const phashDistance = require("sharp-phash/distance") as (a: string, b: string) => number;

/** Sharpness and exposure are measured on the luma plane resized to this long side, so figures compare across sizes. */
export const MEASURE_LONG_SIDE = 512;

export interface ImageMeasures {
  width: number;
  height: number;
  format: string;
  /** Variance of the 4-neighbour Laplacian of the luma plane (higher = sharper). */
  laplacianVariance: number;
  /** Share of luma pixels at or below 4 (crushed shadows) and at or above 251 (blown highlights). */
  darkClipped: number;
  brightClipped: number;
  meanLuma: number;
  /** 64-bit DCT perceptual hash as a 0/1 string (sharp-phash). */
  phash: string;
}

export class UndecodableImageError extends Error {}

export async function measureImage(bytes: Uint8Array): Promise<ImageMeasures> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch (error) {
    throw new UndecodableImageError(`does not decode: ${(error as Error).message}`);
  }
  if (!meta.width || !meta.height || !meta.format) throw new UndecodableImageError("no dimensions or format");
  const scale = MEASURE_LONG_SIDE / Math.max(meta.width, meta.height);
  const width = Math.max(8, Math.round(meta.width * scale));
  const height = Math.max(8, Math.round(meta.height * scale));
  let luma: Buffer;
  try {
    luma = await sharp(bytes).rotate().resize(width, height, { fit: "fill" }).greyscale().raw().toBuffer();
  } catch (error) {
    throw new UndecodableImageError(`pixels do not decode: ${(error as Error).message}`);
  }
  return {
    width: meta.width,
    height: meta.height,
    format: meta.format,
    laplacianVariance: laplacianVariance(luma, width, height),
    ...exposure(luma),
    phash: await phash(Buffer.from(bytes)),
  };
}

export function laplacianVariance(luma: Uint8Array, width: number, height: number): number {
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const v = luma[i - 1]! + luma[i + 1]! + luma[i - width]! + luma[i + width]! - 4 * luma[i]!;
      sum += v;
      sumSq += v * v;
      n++;
    }
  }
  const mean = sum / n;
  return sumSq / n - mean * mean;
}

function exposure(luma: Uint8Array): { darkClipped: number; brightClipped: number; meanLuma: number } {
  let dark = 0;
  let bright = 0;
  let sum = 0;
  for (const v of luma) {
    if (v <= 4) dark++;
    else if (v >= 251) bright++;
    sum += v;
  }
  return { darkClipped: dark / luma.length, brightClipped: bright / luma.length, meanLuma: sum / luma.length };
}

export function hammingDistance(a: string, b: string): number {
  return phashDistance(a, b);
}
