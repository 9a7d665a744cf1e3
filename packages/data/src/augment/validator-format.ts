// What a validator sends, by validator version (spec §4.7): validators upgrade at different times, so a miner meets
// all three formats at once and trains, evaluates and simulates each of them.
//   jan — January 2026: augmentation levels 0–3 (centre crop, or rotation + RandomResizedCrop + distortions) to a
//         224×224 JPEG q75 (validator-augment.ts).
//   apr — 2026-04-06: the crops replaced by a letterbox (ResizeWithPadding to 224×224, black bars), then the same
//         rotation and distortions; nothing is cropped off the frame's edges.
//   may — 2026-05-03: no augmentation: the source frame at its native resolution (dashcam frames such as 1920×1080,
//         synthetic images ≈ 1024×1024), re-encoded as JPEG q75.
import sharp from "sharp";
import type { ValidatorFormat } from "../dataset/record.ts";
import type { Prng } from "../prng.ts";
import { createRaster, type Raster, resize, rotate } from "./raster.ts";
import {
  type AppliedAugmentation,
  type AugmentationLevel,
  augmentRaster,
  CHALLENGE_JPEG_QUALITY,
  decodeRaster,
  distortByLevel,
  drawLevel,
  encodeChallengeJpeg,
  TARGET_SIZE,
} from "./validator-augment.ts";

/** Validator versions by the month their challenge format appeared (the CLI's --formats names). */
export const CHALLENGE_FORMATS = ["jan", "apr", "may"] as const;
export type ChallengeFormat = (typeof CHALLENGE_FORMATS)[number];

export const CHALLENGE_FORMAT_INFO: Record<
  ChallengeFormat,
  {
    since: string;
    description: string /** The dataset record's `validatorFormat` for this format. */;
    record: ValidatorFormat;
  }
> = {
  jan: { since: "2026-01", description: "augmented 224×224 crop (levels 0-3), JPEG q75", record: "crop-224" },
  apr: {
    since: "2026-04-06",
    description: "letterbox to 224×224 (black bars), then rotation/distortions, JPEG q75",
    record: "letterbox-224",
  },
  may: { since: "2026-05-03", description: "native-resolution frame, no augmentation, JPEG q75", record: "native" },
};

/** Relative weight of each format among challenges; weights need not sum to 1. */
export type FormatMix = Readonly<Partial<Record<ChallengeFormat, number>>>;
/** Validators run all three versions at once; without better knowledge, equal shares. */
export const DEFAULT_FORMAT_MIX: FormatMix = { jan: 1, apr: 1, may: 1 };

/** Native frame sizes a May validator sends: NATIX dashcam frames and SDXL synthetic images. */
export const NATIVE_FRAME_SIZES = {
  real: { width: 1920, height: 1080 },
  synthetic: { width: 1024, height: 1024 },
} as const;
export type NativeKind = keyof typeof NATIVE_FRAME_SIZES;
/** Two thirds of challenges are real images since 2026-04-29 (synthetic / real / NATIX "api", uniform). */
export const REAL_SHARE = 2 / 3;

/**
 * Parses "jan,apr,may" (equal shares), "may" or weighted "jan:1,apr:1,may:2". Throws a message that says what
 * is accepted.
 */
export function parseFormatMix(text: string): FormatMix {
  const mix: Partial<Record<ChallengeFormat, number>> = {};
  const parts = text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new Error(formatMixHelp(text));
  for (const part of parts) {
    const [name, weightText] = part.split(":");
    if (!CHALLENGE_FORMATS.includes(name as ChallengeFormat)) throw new Error(formatMixHelp(text));
    const weight = weightText === undefined ? 1 : Number(weightText);
    if (!(weight > 0) || !Number.isFinite(weight)) throw new Error(formatMixHelp(text));
    mix[name as ChallengeFormat] = (mix[name as ChallengeFormat] ?? 0) + weight;
  }
  return mix;
}

const formatMixHelp = (text: string) =>
  `invalid validator formats '${text}': give a comma list of ${CHALLENGE_FORMATS.join(", ")}, optionally weighted (e.g. jan:1,may:2)`;

/** The formats a mix uses, in canonical order. */
export function formatsOf(mix: FormatMix): ChallengeFormat[] {
  return CHALLENGE_FORMATS.filter((f) => (mix[f] ?? 0) > 0);
}

/** "jan 33% · apr 33% · may 33%". */
export function describeFormatMix(mix: FormatMix): string {
  const total = formatsOf(mix).reduce((a, f) => a + mix[f]!, 0);
  return formatsOf(mix)
    .map((f) => `${f} ${Math.round((100 * mix[f]!) / total)}%`)
    .join(" · ");
}

export function drawFormat(rng: Prng, mix: FormatMix = DEFAULT_FORMAT_MIX): ChallengeFormat {
  const formats = formatsOf(mix);
  if (formats.length === 0) throw new Error("the validator format mix is empty");
  const total = formats.reduce((a, f) => a + mix[f]!, 0);
  let u = rng.next() * total;
  for (const f of formats) {
    u -= mix[f]!;
    if (u < 0) return f;
  }
  return formats[formats.length - 1]!;
}

export interface FormattedChallenge {
  /** The JPEG (q75, 4:2:0, baseline) the miner receives, before base64. */
  jpeg: Buffer;
  format: ChallengeFormat;
  width: number;
  height: number;
  /** jan/apr only. */
  augmentation?: AppliedAugmentation;
}

/**
 * Makes the challenge a validator of `format` sends for `image`. For "may", `image` must already be the frame at
 * its native resolution (see NATIVE_FRAME_SIZES); it is only re-encoded.
 */
export async function formatChallenge(
  image: Uint8Array,
  format: ChallengeFormat,
  rng: Prng,
): Promise<FormattedChallenge> {
  if (format === "may") {
    const { data, info } = await sharp(image)
      .removeAlpha()
      .toColourspace("srgb")
      .jpeg({ quality: CHALLENGE_JPEG_QUALITY, chromaSubsampling: "4:2:0", mozjpeg: false })
      .toBuffer({ resolveWithObject: true });
    return { jpeg: data, format, width: info.width, height: info.height };
  }
  const level = drawLevel(rng);
  const input = await decodeRaster(image);
  const { raster, augmentation } =
    format === "jan" ? augmentRaster(input, level, rng) : letterboxAugment(input, level, rng);
  return { jpeg: await encodeChallengeJpeg(raster), format, width: raster.width, height: raster.height, augmentation };
}

/**
 * ResizeWithPadding: scale so the longer side is `size` (int() of the scaled sides, as PIL sizes are), resize
 * (antialiased bilinear), centre on black.
 */
export function letterbox(input: Raster, size: number = TARGET_SIZE): Raster {
  const scale = Math.min(size / input.width, size / input.height);
  const w = Math.max(1, Math.trunc(input.width * scale));
  const h = Math.max(1, Math.trunc(input.height * scale));
  const scaled = w === input.width && h === input.height ? input : resize(input, w, h);
  const out = createRaster(size, size);
  const left = Math.floor((size - w) / 2);
  const top = Math.floor((size - h) / 2);
  for (let y = 0; y < h; y++) {
    out.data.set(scaled.data.subarray(y * w * 3, (y + 1) * w * 3), ((top + y) * size + left) * 3);
  }
  return out;
}

/** April's pipeline: letterbox, then (levels 1–3) rotation ±20° and (levels 2–3) the same distortions. */
export function letterboxAugment(
  input: Raster,
  level: AugmentationLevel,
  rng: Prng,
): { raster: Raster; augmentation: AppliedAugmentation } {
  const boxed = letterbox(input);
  if (level === 0) return { raster: boxed, augmentation: { level, distortions: {} } };
  const rotationDegrees = rng.uniform(-20, 20);
  const { raster, distortions } = distortByLevel(rotate(boxed, rotationDegrees), level, rng);
  return { raster, augmentation: { level, rotationDegrees, distortions } };
}

/** Which kind of native frame a May challenge carries: real (dashcam) two times in three, else synthetic. */
export function drawNativeKind(rng: Prng): NativeKind {
  return rng.next() < REAL_SHARE ? "real" : "synthetic";
}
