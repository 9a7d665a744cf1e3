// What a captured challenge is on disk or in S3: the image bytes and one JSON record beside them, under
// captures/YYYY/MM/DD/<sha256>.<ext>. The record is the contract with the dataset importer for captured challenges.
import sharp from "sharp";
import { z } from "zod";

/** The validator behaviours of spec §4.7, as guessed from the challenge image itself. */
export const VALIDATOR_FORMATS = ["crop-224", "letterbox-224", "native"] as const;
export type ValidatorFormat = (typeof VALIDATOR_FORMATS)[number];

export const CAPTURE_MEDIA_TYPES = { jpeg: "image/jpeg", png: "image/png", webp: "image/webp" } as const;
type ImageKind = keyof typeof CAPTURE_MEDIA_TYPES;
const EXTENSIONS: Record<ImageKind, string> = { jpeg: "jpg", png: "png", webp: "webp" };

export const CaptureRecordSchema = z
  .object({
    schemaVersion: z.literal(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** The image file beside this record, e.g. "<sha256>.jpg". */
    file: z.string().regex(/^[0-9a-f]{64}\.(jpg|png|webp)$/),
    mediaType: z.enum(["image/jpeg", "image/png", "image/webp"]),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    byteLength: z.number().int().positive(),
    /** ISO time the challenge arrived. */
    capturedAt: z.string(),
    requestId: z.string(),
    /** The calibrated score before the wire guard, and the value sent. */
    score: z.number(),
    prediction: z.number(),
    modelVersion: z.string(),
    callerHotkey: z.string(),
    callerUid: z.number().int().nullable(),
    validatorFormat: z.enum(VALIDATOR_FORMATS),
    /** 0/1 when a (testnet) validator sent the label; validators today always send -1, recorded as null. */
    testnetLabel: z.union([z.literal(0), z.literal(1)]).nullable(),
    /** Why it was kept: inside the band around the threshold, or drawn by the sampling of the rest. */
    reason: z.enum(["near-threshold", "sampled"]),
  })
  .strict();
export type CaptureRecord = z.infer<typeof CaptureRecordSchema>;

/** "2026/11/30" (UTC) for a time in ms. */
export function captureDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll("-", "/");
}

export function captureFileName(sha256: string, format: string): string {
  return `${sha256}.${EXTENSIONS[format as ImageKind] ?? "jpg"}`;
}

export interface ImageFacts {
  format: ImageKind;
  width: number;
  height: number;
  validatorFormat: ValidatorFormat;
}

/** A row or column counts as a black bar when its mean luma is at most this (JPEG q75 keeps black near 0-4). */
const BAR_LUMA = 12;
/** Both bars must be at least this many pixels thick: a 16:9 frame letterboxed to 224 gets two 49-px bars. */
const MIN_BAR = 4;

/**
 * Reads the header and guesses how the validator made the image: 224×224 with black bars on two opposite sides is
 * April 2026's letterbox, 224×224 without is January's crop, anything else is a native-resolution frame (May 2026).
 */
export async function inspectChallengeImage(image: Uint8Array): Promise<ImageFacts> {
  const meta = await sharp(image, { limitInputPixels: 100_000_000 }).metadata();
  const format = meta.format as string;
  if (!(format in CAPTURE_MEDIA_TYPES)) throw new Error(`unsupported image format '${format}'`);
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width === 0 || height === 0) throw new Error("image header has no dimensions");
  let validatorFormat: ValidatorFormat = "native";
  if (width === 224 && height === 224) {
    const { data } = await sharp(image).greyscale().raw().toBuffer({ resolveWithObject: true });
    validatorFormat = hasLetterboxBars(data, width, height) ? "letterbox-224" : "crop-224";
  }
  return { format: format as ImageKind, width, height, validatorFormat };
}

/** True when dark bars of at least MIN_BAR px frame the image top and bottom, or left and right. */
export function hasLetterboxBars(luma: Uint8Array, width: number, height: number): boolean {
  const rowMean = (y: number) => {
    let s = 0;
    for (let x = 0; x < width; x++) s += luma[y * width + x]!;
    return s / width;
  };
  const colMean = (x: number) => {
    let s = 0;
    for (let y = 0; y < height; y++) s += luma[y * width + x]!;
    return s / height;
  };
  const run = (n: number, mean: (i: number) => number, from: number, step: number) => {
    let k = 0;
    for (let i = from; i >= 0 && i < n && mean(i) <= BAR_LUMA; i += step) k++;
    return k;
  };
  const top = run(height, rowMean, 0, 1);
  const bottom = run(height, rowMean, height - 1, -1);
  const left = run(width, colMean, 0, 1);
  const right = run(width, colMean, width - 1, -1);
  // A wholly dark image is a night scene, not a letterbox.
  if (top >= height || left >= width) return false;
  return (top >= MIN_BAR && bottom >= MIN_BAR) || (left >= MIN_BAR && right >= MIN_BAR);
}
