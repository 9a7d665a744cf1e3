// Messages between lifecycle pieces, validated on both ends.
import { z } from "zod";
import { SemVer } from "./model-version.ts";
import { HfRepoId } from "./natix-registration.ts";

/** Sent once per submission when the retrain lead time is reached (reward-decay), or once a day when the drift check finds drift; the training pipeline consumes it. */
export const RetrainRequest = z.object({
  type: z.literal("retrain"),
  reason: z.enum(["reward-decay", "drift"]),
  /** The submission whose reward is about to decay; also the idempotency key. */
  submissionTime: z.number().int().positive(),
  currentVersion: SemVer,
  requestedAt: z.iso.datetime(),
  /** When the reward starts to decay (ISO); a new model should be registered before then. */
  decayStartsAt: z.iso.datetime(),
});
export type RetrainRequest = z.infer<typeof RetrainRequest>;

/** Sent by the pipeline after promotion: publish this bundle to Hugging Face and register it with NATIX. */
export const PublishRequest = z.object({
  /** S3 prefix (in the models bucket) of the promoted bundle, ending in "/". */
  bundlePrefix: z
    .string()
    .min(2)
    .endsWith("/")
    .refine((p) => !p.startsWith("/") && !p.includes(".."), "bundlePrefix must be a relative S3 prefix"),
  version: SemVer,
  repo: HfRepoId,
  uid: z.number().int().min(0).max(65535),
  modelName: z.string().min(1).max(200).optional(),
  description: z.string().max(5000).optional(),
});
export type PublishRequest = z.infer<typeof PublishRequest>;
