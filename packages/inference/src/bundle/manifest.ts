// manifest.json of a model bundle: which ONNX files make up the model, how to feed them, how to read their
// outputs, how members combine, and how the combined score is calibrated. Validated with zod on every load.
import { z } from "zod";
import { CalibrationSchema } from "../calibration.ts";
import { PreprocessingSchema } from "../image/preprocess.ts";
import { PoolingSchema } from "../pooling.ts";

export const MANIFEST_FILE = "manifest.json";

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** A file inside the bundle: a plain relative path (no "..", no absolute paths, no backslashes). */
export const BundlePath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith("/") && !p.includes("\\") && !p.split("/").some((s) => s === ".." || s === ""), {
    message: "must be a relative path inside the bundle (no '..', no leading '/')",
  });
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, { message: "must be 64 lowercase hex characters" });
const Dim = z.union([z.string().min(1), z.number().int().positive()]);

export const InputSchema = z.object({
  name: z.string().min(1),
  /** [N, 3, H, W]: N symbolic (batchable) or a fixed batch size; H and W fixed. */
  shape: z.tuple([Dim, z.literal(3), z.number().int().positive(), z.number().int().positive()]),
  dtype: z.enum(["float32", "float16"]).default("float32"),
});

export const OutputKind = z.enum(["sigmoid", "logit", "softmax"], {
  error: (issue) => `unknown output kind ${JSON.stringify(issue.input)}: use "sigmoid", "logit" or "softmax"`,
});

export const OutputSchema = z.object({
  name: z.string().min(1),
  kind: OutputKind,
  /** Column of the [N, K] output holding the roadwork class (default 0; required for softmax with K > 1). */
  index: z.number().int().nonnegative().optional(),
});

/** Backbone + head: the member's `onnx` produces embeddings, `head.onnx` maps [N, D] to the member's output. */
export const HeadSchema = z.object({
  onnx: BundlePath,
  sha256: Sha256,
  /** The head's input name. */
  input: z.string().min(1),
  embedding: z.object({
    /** Backbone output to feed the head, e.g. "pooler_output" [N, D] or "last_hidden_state" [N, T, D]. */
    output: z.string().min(1),
    /**
     * How [N, T, D] becomes one row (see pooling.ts): "cls" token 0, "mean" the mean patch token, "cls+mean" both
     * concatenated (DINOv2 linear probe); "none": the output already is [N, D].
     */
    token: PoolingSchema.default("none"),
    /** Tokens before the patches: 1 (CLS), or 1 + registers for DINOv2-with-registers (skipped by "mean"). */
    prefixTokens: z.number().int().min(1).default(1),
  }),
});

/** A half-precision variant of the member, used only when the session runs on a GPU. */
export const Fp16Schema = z.object({
  onnx: BundlePath,
  sha256: Sha256,
  head: z.object({ onnx: BundlePath, sha256: Sha256 }).optional(),
});

export const MemberSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9._-]+$/, { message: "member id: letters, digits, '.', '_' or '-'" }),
  onnx: BundlePath,
  sha256: Sha256,
  input: InputSchema,
  preprocessing: PreprocessingSchema.default(PreprocessingSchema.parse({})),
  output: OutputSchema,
  weight: z.number().positive().default(1),
  head: HeadSchema.optional(),
  fp16: Fp16Schema.optional(),
});

export const ManifestSchema = z
  .object({
    schemaVersion: z.literal(1).default(1),
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, { message: "name: letters, digits, '.', '_' or '-'" }),
    version: z.string().regex(SEMVER, { message: "version must be semver, e.g. 1.4.0" }),
    created: z.iso.datetime({ offset: true }),
    description: z.string().optional(),
    members: z.array(MemberSchema).min(1),
    /** How member probabilities combine: weighted mean of logits (default) or of probabilities. */
    combine: z.enum(["mean-logit", "mean-probability"]).default("mean-logit"),
    /** Test-time augmentation views, averaged like members. */
    tta: z
      .array(z.enum(["none", "hflip"]))
      .min(1)
      .default(["none"]),
    calibration: CalibrationSchema.default({ kind: "none" }),
    /** Free-form provenance from training (dataset version, metrics); carried, never interpreted. */
    training: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((m, ctx) => {
    const ids = new Set<string>();
    for (const [i, member] of m.members.entries()) {
      if (ids.has(member.id))
        ctx.addIssue({ code: "custom", path: ["members", i, "id"], message: `duplicate member id '${member.id}'` });
      ids.add(member.id);
      if (member.output.kind === "softmax" && member.output.index === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["members", i, "output", "index"],
          message: "softmax outputs need the roadwork class index",
        });
      }
    }
  });

export type Manifest = z.output<typeof ManifestSchema>;
export type ManifestInput = z.input<typeof ManifestSchema>;
export type Member = z.output<typeof MemberSchema>;
export type MemberInput = z.input<typeof MemberSchema>;

type Draft<T> = Omit<T, "sha256"> & { sha256?: string };
/** A member as the trainer writes it: checksums are filled in by writeBundle from the file bytes. */
export type MemberDraft = Omit<Draft<MemberInput>, "head" | "fp16"> & {
  head?: Draft<z.input<typeof HeadSchema>>;
  fp16?: Draft<Omit<z.input<typeof Fp16Schema>, "head">> & { head?: { onnx: string; sha256?: string } };
};
/** A manifest as the trainer writes it: no checksums, `created` defaults to now. */
export type ManifestDraft = Omit<ManifestInput, "members" | "created"> & { created?: string; members: MemberDraft[] };

export class BundleError extends Error {
  override readonly name = "BundleError";
}

/** Parses manifest JSON text or an object; every problem is listed with its path. */
export function parseManifest(input: unknown, where = MANIFEST_FILE): Manifest {
  let value = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw new BundleError(`${where} is not valid JSON: ${(error as Error).message}`);
    }
  }
  const parsed = ManifestSchema.safeParse(value);
  if (!parsed.success) throw new BundleError(`${where} is invalid:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Every file a manifest references, with its expected checksum. */
export function manifestFiles(m: Manifest): { path: string; sha256: string }[] {
  const files = new Map<string, string>();
  const add = (path: string, sha256: string) => {
    const seen = files.get(path);
    if (seen && seen !== sha256) throw new BundleError(`${path} is listed twice with different sha256`);
    files.set(path, sha256);
  };
  for (const member of m.members) {
    add(member.onnx, member.sha256);
    if (member.head) add(member.head.onnx, member.head.sha256);
    if (member.fp16) {
      add(member.fp16.onnx, member.fp16.sha256);
      if (member.fp16.head) add(member.fp16.head.onnx, member.fp16.head.sha256);
    }
  }
  return [...files].map(([path, sha256]) => ({ path, sha256 }));
}

/** "name@version", the string that identifies a bundle in prediction records and metrics. */
export const bundleVersion = (m: Pick<Manifest, "name" | "version">): string => `${m.name}@${m.version}`;
