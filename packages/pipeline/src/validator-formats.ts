// The challenge formats validators have sent (spec §4.7). Every one is scored by the gate, because validators upgrade
// at different times and a model that wins on one format can lose on another.
import { augmentForChallenge, CHALLENGE_JPEG_QUALITY, drawLevel, Prng, TARGET_SIZE } from "@roadwork/data";
import sharp from "sharp";

export const VALIDATOR_FORMATS = ["augmented", "letterbox", "native"] as const;
export type ValidatorFormat = (typeof VALIDATOR_FORMATS)[number];

/** What the formats are, for reports. */
export const FORMAT_DESCRIPTIONS: Record<ValidatorFormat, string> = {
  augmented: "Jan 2026: random-resized crop + augmentation level 0-3, 224x224 JPEG q75",
  letterbox: "Apr 2026: letterboxed to 224x224 with black bars, JPEG q75",
  native: "May 2026: the source frame at native resolution, re-encoded JPEG q75",
};

/** The challenge bytes a validator of `format` would send for this source image (deterministic in `seed`). */
export async function renderValidatorFormat(
  source: Uint8Array,
  format: ValidatorFormat,
  seed: string,
): Promise<Buffer> {
  switch (format) {
    case "augmented": {
      const rng = new Prng(seed);
      return (await augmentForChallenge(source, drawLevel(rng), rng)).jpeg;
    }
    case "letterbox":
      return sharp(source)
        .removeAlpha()
        .resize(TARGET_SIZE, TARGET_SIZE, { fit: "contain", background: { r: 0, g: 0, b: 0 } })
        .jpeg({ quality: CHALLENGE_JPEG_QUALITY })
        .toBuffer();
    case "native":
      return sharp(source).removeAlpha().jpeg({ quality: CHALLENGE_JPEG_QUALITY }).toBuffer();
  }
}
