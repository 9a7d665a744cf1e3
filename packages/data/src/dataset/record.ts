// One image record for every source: content-addressed bytes, where they came from, a label with its provenance,
// and the group that keeps near-copies on one side of a split. Validated with zod wherever one is read.
import { z } from "zod";

/** Where an image comes from. */
export const SOURCES = ["natix", "captured", "synthetic", "folder", "procedural"] as const;
export type Source = (typeof SOURCES)[number];

/** Photographs (or validator challenges that are photographs or look like them): the only images val/test may hold. */
export const REAL_SOURCES: readonly Source[] = ["natix", "captured", "folder"];
export const isRealSource = (s: Source): boolean => REAL_SOURCES.includes(s);

/** Who said what the label is. */
export const LABEL_SOURCES = ["ground-truth", "testnet-label", "prompt", "teacher", "human"] as const;
export type LabelSource = (typeof LABEL_SOURCES)[number];

/**
 * Which label wins when two disagree: a later label replaces an earlier one only from an equal or stronger source.
 * Ground truth (a dataset's own label) and a person's review outrank a testnet validator's label, which outranks a
 * teacher model, which outranks the prompt a generator was given (the generator may not have drawn what was asked).
 */
export const LABEL_PRECEDENCE: Record<LabelSource, number> = {
  prompt: 1,
  teacher: 2,
  "testnet-label": 3,
  human: 4,
  "ground-truth": 5,
};

/** The validator behaviours of spec §4.7, as guessed from a captured challenge. */
export const VALIDATOR_FORMATS = ["crop-224", "letterbox-224", "native"] as const;
export type ValidatorFormat = (typeof VALIDATOR_FORMATS)[number];

export const MEDIA_TYPES = ["image/jpeg", "image/png", "image/webp"] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];

export const SPLITS = ["train", "val", "test"] as const;
export type Split = (typeof SPLITS)[number];

export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits (sha256)");

/** Source details: what is known about how the image came to be. Every field optional; which apply depends on source. */
export const SourceDetailsSchema = z
  .object({
    /** natix: `org/name@revision` of the Hugging Face dataset; folder: the folder imported. */
    dataset: z.string().optional(),
    /** natix: the parquet shard; folder: the file's path relative to the folder; captured: the capture record. */
    file: z.string().optional(),
    /** natix: the row within its shard. */
    row: z.number().int().min(0).optional(),
    /** natix: the dataset's `scene_description` column. */
    sceneDescription: z.string().optional(),
    /** synthetic/procedural: generator name (e.g. bedrock:stability.sd3-5-large-v1:0, cosmos, roadwork-procedural). */
    generator: z.string().optional(),
    generatorVersion: z.string().optional(),
    prompt: z.string().optional(),
    negativePrompt: z.string().optional(),
    seed: z.number().int().optional(),
    /** synthetic image-to-image: the sha256 of the source image; the result joins that image's group. */
    parentSha256: Sha256Schema.optional(),
    /** procedural: scene category and conditions. */
    category: z.string().optional(),
    conditions: z.record(z.string(), z.string()).optional(),
    /** captured: when, by which model, at which score, from which validator, in which format. */
    capturedAt: z.string().optional(),
    modelVersion: z.string().optional(),
    score: z.number().optional(),
    callerHotkey: z.string().optional(),
    validatorFormat: z.enum(VALIDATOR_FORMATS).optional(),
  })
  .strict();
export type SourceDetails = z.infer<typeof SourceDetailsSchema>;

export const LabelSchema = z.union([z.literal(0), z.literal(1)]).nullable();
/** 1 = roadwork present, 0 = none, null = unlabelled. */
export type Label = z.infer<typeof LabelSchema>;

/** An image as it enters a dataset: everything but the group and split, which a version assigns. */
const newImageRecordShape = {
  sha256: Sha256Schema,
  mediaType: z.enum(MEDIA_TYPES),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  byteLength: z.number().int().positive(),
  /** DCT perceptual hash (sharp-phash), 16 hex digits; absent when it could not be computed. */
  phash: z
    .string()
    .regex(/^[0-9a-f]{16}$/)
    .optional(),
  source: z.enum(SOURCES),
  details: SourceDetailsSchema,
  label: LabelSchema,
  labelSource: z.enum(LABEL_SOURCES).nullable(),
  /** How sure the label source is, in [0, 1]; 1 for ground truth and people. */
  labelConfidence: z.number().min(0).max(1).nullable(),
};
export const NewImageRecordSchema = z
  .object(newImageRecordShape)
  .strict()
  .superRefine((r, ctx) => {
    if ((r.label === null) !== (r.labelSource === null) || (r.label === null) !== (r.labelConfidence === null)) {
      ctx.addIssue({ code: "custom", message: "label, labelSource and labelConfidence are all set or all null" });
    }
  });
export type NewImageRecord = z.infer<typeof NewImageRecordSchema>;

/** A record inside a dataset version. */
export const ImageRecordSchema = z
  .object({
    ...newImageRecordShape,
    /** Records sharing a group always share a split (i2i children, near duplicates). */
    group: z.string().regex(/^[0-9a-f]{16}$/),
    /** null: in no split (unlabelled, or a synthetic image whose group is held out for val/test). */
    split: z.enum(SPLITS).nullable(),
  })
  .strict();
export type ImageRecord = z.infer<typeof ImageRecordSchema>;

/** A label to set on an image already in the dataset (the labelling tools produce these). */
export const LabelChangeSchema = z
  .object({
    sha256: Sha256Schema,
    label: z.union([z.literal(0), z.literal(1)]),
    labelSource: z.enum(LABEL_SOURCES),
    labelConfidence: z.number().min(0).max(1),
  })
  .strict();
export type LabelChange = z.infer<typeof LabelChangeSchema>;
