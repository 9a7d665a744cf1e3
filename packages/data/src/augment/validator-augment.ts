// The StreetVision validators' challenge augmentation (natix `apply_augmentation_by_level`), reproduced so the miner
// can be trained and evaluated on what validators actually send: levels 0–3, then a 224×224 JPEG at quality 75.
//
// Faithful to the observed behaviour, bugs included:
// - The horizontal/vertical flips of levels 1–3 never happen (the flip transforms are built with empty params and
//   only sample when params are absent), so no flip is applied here either.
// - Distortion levels are drawn with an inclusive randint: level 2 uses 0..1, level 3 uses 0..2 (0 = not applied).
import sharp from "sharp";
import type { Prng } from "../prng.ts";
import {
  crop,
  fromBytes,
  gaussianBlur,
  quantizeTruncate,
  type Raster,
  resize,
  rgbToYcbcr,
  rotate,
  toBytes,
  ycbcrToRgb,
} from "./raster.ts";

export const TARGET_SIZE = 224;
export const CHALLENGE_JPEG_QUALITY = 75;
export type AugmentationLevel = 0 | 1 | 2 | 3;

/** DeeperForensics distortion parameters by distortion level 1..5 (`get_distortion_parameter`). */
export const DISTORTION_PARAMETERS = {
  CS: [0.4, 0.3, 0.2, 0.1, 0.0],
  CC: [0.85, 0.725, 0.6, 0.475, 0.35],
  JPEG: [2, 3, 4, 5, 6],
  GNC: [0.001, 0.002, 0.005, 0.01, 0.05],
  GB: [7, 9, 13, 17, 21],
} as const;
export type DistortionKind = keyof typeof DISTORTION_PARAMETERS;

export interface AppliedAugmentation {
  level: AugmentationLevel;
  rotationDegrees?: number;
  crop?: { left: number; top: number; size: number };
  /** Distortion → its level (1..5); only the applied ones. */
  distortions: Partial<Record<DistortionKind, number>>;
}

export interface ChallengeImage {
  /** 224×224 baseline JPEG, quality 75, 4:2:0: what the miner receives (before base64). */
  jpeg: Buffer;
  augmentation: AppliedAugmentation;
}

/** Picks a level uniformly (the validators' level_probs are 0.25 each). */
export function drawLevel(rng: Prng): AugmentationLevel {
  return rng.int(0, 3) as AugmentationLevel;
}

/** Decodes any image to RGB, augments it at `level` and encodes the challenge JPEG. */
export async function augmentForChallenge(
  image: Uint8Array,
  level: AugmentationLevel,
  rng: Prng,
): Promise<ChallengeImage> {
  const { raster: out, augmentation } = augmentRaster(await decodeRaster(image), level, rng);
  return { jpeg: await encodeChallengeJpeg(out), augmentation };
}

/** Any image → RGB raster (alpha dropped, sRGB). */
export async function decodeRaster(image: Uint8Array): Promise<Raster> {
  const { data, info } = await sharp(image)
    .removeAlpha()
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  return fromBytes(data, info.width, info.height);
}

/** PIL's `image.save(format="JPEG")`: quality 75, 4:2:0, baseline. */
export async function encodeChallengeJpeg(r: Raster): Promise<Buffer> {
  return sharp(toBytes(r), { raw: { width: r.width, height: r.height, channels: 3 } })
    .jpeg({ quality: CHALLENGE_JPEG_QUALITY, chromaSubsampling: "4:2:0", mozjpeg: false })
    .toBuffer();
}

export function augmentRaster(
  input: Raster,
  level: AugmentationLevel,
  rng: Prng,
): { raster: Raster; augmentation: AppliedAugmentation } {
  if (level === 0) {
    const side = Math.min(input.width, input.height);
    // torchvision CenterCrop rounds the offsets: int(round((h - side) / 2)).
    const top = Math.round((input.height - side) / 2);
    const left = Math.round((input.width - side) / 2);
    return {
      raster: resize(crop(input, left, top, side, side), TARGET_SIZE, TARGET_SIZE),
      augmentation: { level, distortions: {} },
    };
  }
  const rotationDegrees = rng.uniform(-20, 20);
  const rotated = rotate(input, rotationDegrees);
  const box = randomResizedCropBox(rotated.width, rotated.height, rng);
  const cropped = resize(crop(rotated, box.left, box.top, box.size, box.size), TARGET_SIZE, TARGET_SIZE);
  // Flips: intended with p = 0.5, never applied by the validators (see the header comment).
  const { raster, distortions } = distortByLevel(cropped, level, rng);
  return { raster, augmentation: { level, rotationDegrees, crop: box, distortions } };
}

/** The DeeperForensics distortions of levels 2 and 3 (none below 2), each drawn independently. */
export function distortByLevel(
  input: Raster,
  level: AugmentationLevel,
  rng: Prng,
): { raster: Raster; distortions: Partial<Record<DistortionKind, number>> } {
  const distortions: Partial<Record<DistortionKind, number>> = {};
  if (level < 2) return { raster: input, distortions };
  const kinds: DistortionKind[] = level === 2 ? ["CS", "CC", "JPEG"] : ["CS", "CC", "JPEG", "GNC", "GB"];
  const maxLevel = level === 2 ? 1 : 2;
  // The distortions work on uint8 images.
  let raster = quantizeTruncate(input);
  for (const kind of kinds) {
    const d = rng.int(0, maxLevel);
    if (d === 0) continue;
    distortions[kind] = d;
    raster = applyDistortion(raster, kind, d, rng);
  }
  return { raster, distortions };
}

/** torchvision RandomResizedCrop.get_params with scale (0.2, 1) and ratio (1, 1): a square. */
export function randomResizedCropBox(
  width: number,
  height: number,
  rng: Prng,
): { left: number; top: number; size: number } {
  const area = width * height;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(0.2, 1.0);
    const side = Math.round(Math.sqrt(target));
    if (side > 0 && side <= width && side <= height) {
      return { top: rng.int(0, height - side), left: rng.int(0, width - side), size: side };
    }
  }
  // Fallback: the largest centred crop with ratio 1.
  const side = Math.min(width, height);
  return { top: Math.floor((height - side) / 2), left: Math.floor((width - side) / 2), size: side };
}

export function applyDistortion(r: Raster, kind: DistortionKind, level: number, rng: Prng): Raster {
  const param = DISTORTION_PARAMETERS[kind][level - 1];
  if (param === undefined) throw new RangeError(`distortion level ${level} outside 1..5`);
  switch (kind) {
    case "CS": {
      // Chroma scaled around neutral in YCbCr == each pixel pulled towards its luma.
      const out = new Float32Array(r.data.length);
      for (let i = 0; i < out.length; i += 3) {
        const y = 0.299 * r.data[i]! + 0.587 * r.data[i + 1]! + 0.114 * r.data[i + 2]!;
        for (let c = 0; c < 3; c++) out[i + c] = y + (r.data[i + c]! - y) * param;
      }
      return quantizeTruncate({ width: r.width, height: r.height, data: out });
    }
    case "CC": {
      const out = new Float32Array(r.data.length);
      for (let i = 0; i < out.length; i++) out[i] = r.data[i]! * param;
      return quantizeTruncate({ width: r.width, height: r.height, data: out });
    }
    case "JPEG": {
      const small = resize(r, Math.floor(r.width / param), Math.floor(r.height / param), false);
      return quantizeTruncate(resize(quantizeTruncate(small), r.width, r.height, false));
    }
    case "GNC": {
      const ycc = rgbToYcbcr(r);
      const sigma = Math.sqrt(param) * 255;
      for (let i = 0; i < ycc.data.length; i++) ycc.data[i] = ycc.data[i]! + sigma * rng.gaussian();
      return quantizeTruncate(ycbcrToRgb(ycc));
    }
    case "GB":
      return quantizeTruncate(gaussianBlur(r, param, param / 6));
  }
}
