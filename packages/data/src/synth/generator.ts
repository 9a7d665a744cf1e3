// One interface for every image generator (Bedrock Stability / Nova Canvas, a Cosmos NIM or other hosted endpoint,
// the procedural renderer): a request in, images with their provenance out, failures as typed GenerationErrors.
import { z } from "zod";

/** Aspect ratios the Stability models on Bedrock accept for text-to-image (AWS model parameters page). */
export const ASPECT_RATIOS = ["16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"] as const;
export type AspectRatio = (typeof ASPECT_RATIOS)[number];

/** Stability seeds on Bedrock: 0–4294967294 (0 means random there, so we never send 0). */
export const MAX_SEED = 4_294_967_294;

export const GenerationRequestSchema = z.object({
  /** Idempotency key: the ledger charges a request id once, and a finished id is never generated again. */
  requestId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/),
  prompt: z.string().min(1).max(10_000),
  negativePrompt: z.string().max(10_000).default(""),
  /** The prompt's label: 1 = roadwork present. */
  label: z.union([z.literal(0), z.literal(1)]),
  seed: z.number().int().min(1).max(MAX_SEED),
  aspectRatio: z.enum(ASPECT_RATIOS).default("16:9"),
  /** Image-to-image: the real frame the result is derived from, and how much of it to replace (0–1). */
  source: z
    .object({
      id: z.string().min(1),
      /** The source record's split group: an i2i result joins it. */
      group: z.string().min(1),
      strength: z.number().min(0).max(1),
    })
    .optional(),
  /** Where the prompt came from (caption source, hard-case cluster), carried into provenance. */
  context: z.record(z.string(), z.string()).default({}),
});
export type GenerationRequest = z.infer<typeof GenerationRequestSchema>;
export type GenerationRequestInput = z.input<typeof GenerationRequestSchema>;

export interface Provenance {
  generator: string;
  model: string;
  mode: "text-to-image" | "image-to-image";
  prompt: string;
  negativePrompt: string;
  /** The seed the model reports having used (may differ from the one asked for). */
  seed: number;
  aspectRatio: AspectRatio;
  parent?: { id: string; group: string; strength: number };
  context: Record<string, string>;
  generatedAt: string;
}

export interface GeneratedImage {
  bytes: Uint8Array;
  /** "jpeg" | "png" | "webp", sniffed from the bytes. */
  format: string;
  provenance: Provenance;
}

export interface GeneratorCapabilities {
  textToImage: boolean;
  imageToImage: boolean;
}

export interface ImageGenerator {
  /** e.g. "bedrock:stability.sd3-5-large-v1:0", "cosmos:http://host:8000", "procedural". */
  readonly id: string;
  readonly model: string;
  readonly capabilities: GeneratorCapabilities;
  /** Checks the generator can be used at all (model lifecycle, endpoint readiness); throws a clear error if not. */
  prepare(): Promise<void>;
  /** `sourceImage` is the encoded real frame for image-to-image requests. */
  generate(request: GenerationRequest, sourceImage?: Uint8Array): Promise<GeneratedImage[]>;
}

/** Why a call produced no usable image. Each kind is counted separately in the batch report and the metrics. */
export const GENERATION_FAILURES = [
  "throttled",
  "quota-exceeded",
  "access-denied",
  "content-filtered",
  "malformed-response",
  "model-error",
  "unavailable",
  "invalid-request",
] as const;
export type GenerationFailure = (typeof GENERATION_FAILURES)[number];

export class GenerationError extends Error {
  constructor(
    readonly kind: GenerationFailure,
    message: string,
    /** A retry later may succeed (throttling, unavailable). */
    readonly retryable: boolean,
    /** Whether the provider bills the failed call (a filtered output image is generated, then withheld). */
    readonly billed = false,
  ) {
    super(message);
    this.name = "GenerationError";
  }
}

/** Sniffs the image container from its first bytes. */
export function imageFormat(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return "png";
  if (bytes[0] === 0x52 && bytes[1] === 0x49 && bytes[8] === 0x57 && bytes[9] === 0x45) return "webp";
  return undefined;
}

/** Width/height of an aspect ratio at about one megapixel, multiples of 64 (what the Stability models return). */
export function sizeOf(aspectRatio: AspectRatio, megapixels = 1): { width: number; height: number } {
  const [w, h] = aspectRatio.split(":").map(Number) as [number, number];
  const scale = Math.sqrt((megapixels * 1024 * 1024) / (w * h));
  return { width: Math.round((w * scale) / 64) * 64, height: Math.round((h * scale) / 64) * 64 };
}
