// The NATIX `model_card.json` placed at the root of the Hugging Face repo (spec §6): exactly five fields.
import { z } from "zod";
import { Ss58Address } from "./hotkey.ts";
import { SemVer } from "./model-version.ts";

export const MODEL_CARD_PATH = "model_card.json";

export const ModelCard = z.strictObject({
  model_name: z.string().min(1).max(200),
  description: z.string().max(5000),
  /** A JSON string "X.Y.Z" (the NATIX doc writes it unquoted, which would not be JSON). */
  version: SemVer,
  submitted_by: Ss58Address,
  /** Unix seconds, an integer (the unit register.sh uses). */
  submission_time: z.number().int().positive().max(4_102_444_800),
});
export type ModelCard = z.infer<typeof ModelCard>;

export interface ModelCardInput {
  modelName: string;
  description: string;
  version: string;
  /** Hotkey ss58 address. */
  hotkey: string;
  /** Unix seconds, or a Date (floored to seconds). */
  submissionTime: number | Date;
}

export function buildModelCard(input: ModelCardInput): ModelCard {
  const t = input.submissionTime;
  const seconds = t instanceof Date ? Math.floor(t.getTime() / 1000) : t;
  return ModelCard.parse({
    model_name: input.modelName,
    description: input.description,
    version: input.version,
    submitted_by: input.hotkey,
    submission_time: seconds,
  });
}

/** Stable serialisation (field order fixed, 2-space indent, trailing newline) so re-publishing is byte-identical. */
export function serializeModelCard(card: ModelCard): string {
  const c = ModelCard.parse(card);
  const ordered = {
    model_name: c.model_name,
    description: c.description,
    version: c.version,
    submitted_by: c.submitted_by,
    submission_time: c.submission_time,
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}
