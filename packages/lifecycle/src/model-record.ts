// The record of the model currently submitted to NATIX, kept in S3. The decay clock reads `submissionTime` from it.
import { z } from "zod";
import { Ss58Address } from "./hotkey.ts";
import { SemVer } from "./model-version.ts";
import { HfRepoId } from "./natix-registration.ts";

/** Default key. Deliberately not models/current.json, which is the promoted-bundle pointer the axon reloads from. */
export const MODEL_RECORD_KEY = "models/submission.json";

export const RegistrationState = z.object({
  /** "skipped": NATIX registration is optional (NATIX removed register.sh in May 2026) and was off for this model. */
  status: z.enum(["succeeded", "failed", "pending", "skipped"]),
  uid: z.number().int().nonnegative(),
  /** The signed timestamp sent to NATIX (unix s). */
  registeredAt: z.number().int().positive().optional(),
  errorMessage: z.string().max(2000).optional(),
});

export const ModelRecord = z.object({
  schemaVersion: z.literal(1),
  version: SemVer,
  /** Built-at date of the bundle, ISO date. */
  builtAt: z.iso.datetime().optional(),
  /** S3 prefix of the promoted bundle, ending in "/". */
  bundlePrefix: z.string().min(1).endsWith("/"),
  hfRepo: HfRepoId,
  hfCommitSha: z.string().regex(/^[0-9a-f]{40}$/),
  /** model_card.json submission_time: the decay clock starts here. */
  submissionTime: z.number().int().positive(),
  submittedBy: Ss58Address,
  registration: RegistrationState,
  updatedAt: z.iso.datetime(),
});
export type ModelRecord = z.infer<typeof ModelRecord>;

export function alertLedgerKey(submissionTime: number, recordKey = MODEL_RECORD_KEY): string {
  const dir = recordKey.includes("/") ? recordKey.slice(0, recordKey.lastIndexOf("/") + 1) : "";
  return `${dir}alerts-${submissionTime}.json`;
}

/** Which decay alerts went out for one submission, and whether retraining was requested. */
export const AlertLedger = z.object({
  submissionTime: z.number().int().positive(),
  sent: z.array(z.object({ id: z.string(), at: z.iso.datetime() })),
  retrainRequestedAt: z.iso.datetime().optional(),
});
export type AlertLedger = z.infer<typeof AlertLedger>;
