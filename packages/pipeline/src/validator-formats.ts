// The challenge formats validators have sent (spec §4.7), from the data package's single definition. Every one is
// scored by the gate, because validators upgrade at different times and a model that wins on one format can lose
// on another.
import { CHALLENGE_FORMAT_INFO, CHALLENGE_FORMATS, type ChallengeFormat, formatChallenge, Prng } from "@roadwork/data";

export const VALIDATOR_FORMATS = CHALLENGE_FORMATS;
export type ValidatorFormat = ChallengeFormat;

/** What the formats are, for reports. */
export const FORMAT_DESCRIPTIONS: Record<ValidatorFormat, string> = Object.fromEntries(
  CHALLENGE_FORMATS.map((f) => [f, `${CHALLENGE_FORMAT_INFO[f].since}: ${CHALLENGE_FORMAT_INFO[f].description}`]),
) as Record<ValidatorFormat, string>;

/** The challenge bytes a validator of `format` would send for this source image (deterministic in `seed`). */
export async function renderValidatorFormat(
  source: Uint8Array,
  format: ValidatorFormat,
  seed: string,
): Promise<Buffer> {
  return (await formatChallenge(source, format, new Prng(seed))).jpeg;
}
