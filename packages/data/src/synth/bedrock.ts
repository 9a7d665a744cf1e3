// Bedrock image generators: the Stability models (SD3.5 Large t2i + i2i, Stable Image Core, Stable Image Ultra) and
// Amazon Nova Canvas, through InvokeModel with the request/response bodies AWS documents for each model. Before first
// use the model's lifecycle is read with GetFoundationModel: LEGACY or past end-of-life models are refused.
// Both clients are injected (endpoint, credentials and region come from the composition root / SDK environment).
import { type BedrockClient, GetFoundationModelCommand } from "@aws-sdk/client-bedrock";
import { type BedrockRuntimeClient, InvokeModelCommand } from "@aws-sdk/client-bedrock-runtime";
import { z } from "zod";
import {
  type GeneratedImage,
  GenerationError,
  type GenerationRequest,
  type ImageGenerator,
  imageFormat,
  sizeOf,
} from "./generator.ts";

interface StabilityModel {
  name: string;
  imageToImage: boolean;
  /** SD3.5 Large takes `mode`; Core and Ultra have no mode field. */
  hasMode: boolean;
}

export const STABILITY_MODELS: Record<string, StabilityModel> = {
  "stability.sd3-5-large-v1:0": { name: "Stable Diffusion 3.5 Large", imageToImage: true, hasMode: true },
  "stability.stable-image-core-v1:1": { name: "Stable Image Core", imageToImage: false, hasMode: false },
  "stability.stable-image-ultra-v1:1": { name: "Stable Image Ultra", imageToImage: false, hasMode: false },
};
export const NOVA_CANVAS = "amazon.nova-canvas-v1:0";

/** Stability response: `images` (base64), `seeds`, `finish_reasons` (null = success, else a filter/error reason). */
const StabilityResponseSchema = z.object({
  images: z.array(z.string().min(1)).optional(),
  seeds: z.array(z.union([z.number(), z.string()])).optional(),
  finish_reasons: z.array(z.string().nullable()),
});

/** Nova Canvas response: `images` (base64 PNG) or `error`. */
const NovaResponseSchema = z.object({ images: z.array(z.string().min(1)).optional(), error: z.string().nullish() });

/** Nova Canvas seeds are 0–858,993,459; its prompt is at most 1,024 characters. */
const NOVA_MAX_SEED = 858_993_459;

export interface BedrockGeneratorOptions {
  runtime: BedrockRuntimeClient;
  control: BedrockClient;
  modelId: string;
  now?: () => Date;
}

export class BedrockImageGenerator implements ImageGenerator {
  readonly id: string;
  readonly model: string;
  readonly capabilities: { textToImage: boolean; imageToImage: boolean };
  private prepared?: Promise<void>;

  constructor(private readonly options: BedrockGeneratorOptions) {
    const stability = STABILITY_MODELS[options.modelId];
    if (!stability && options.modelId !== NOVA_CANVAS) {
      throw new Error(
        `unsupported Bedrock image model '${options.modelId}'; use one of ${[...Object.keys(STABILITY_MODELS), NOVA_CANVAS].join(", ")}`,
      );
    }
    this.model = options.modelId;
    this.id = `bedrock:${options.modelId}`;
    this.capabilities = { textToImage: true, imageToImage: stability ? stability.imageToImage : true };
  }

  prepare(): Promise<void> {
    this.prepared ??= checkLifecycle(this.options.control, this.model, this.options.now?.() ?? new Date());
    return this.prepared;
  }

  async generate(request: GenerationRequest, sourceImage?: Uint8Array): Promise<GeneratedImage[]> {
    await this.prepare();
    if (request.source && !this.capabilities.imageToImage) {
      throw new GenerationError(
        "invalid-request",
        `${this.model} does not do image-to-image; use stability.sd3-5-large-v1:0`,
        false,
      );
    }
    if (request.source && !sourceImage)
      throw new GenerationError("invalid-request", "image-to-image request without its source image", false);
    const body =
      this.model === NOVA_CANVAS ? novaBody(request, sourceImage) : stabilityBody(this.model, request, sourceImage);
    let raw: Uint8Array;
    try {
      const res = await this.options.runtime.send(
        new InvokeModelCommand({
          modelId: this.model,
          contentType: "application/json",
          accept: "application/json",
          body: JSON.stringify(body),
        }),
      );
      raw = res.body;
    } catch (error) {
      throw classifyBedrockError(error, this.model);
    }
    const images: { bytes: Uint8Array; seed?: number }[] =
      this.model === NOVA_CANVAS ? parseNova(raw) : parseStability(raw);
    return images.map(({ bytes, seed }) => ({
      bytes,
      format: imageFormat(bytes) ?? "unknown",
      provenance: {
        generator: this.id,
        model: this.model,
        mode: request.source ? "image-to-image" : "text-to-image",
        prompt: request.prompt,
        negativePrompt: request.negativePrompt,
        seed: seed ?? request.seed,
        aspectRatio: request.aspectRatio,
        ...(request.source ? { parent: request.source } : {}),
        context: request.context,
        generatedAt: new Date().toISOString(),
      },
    }));
  }
}

/** Refuses LEGACY and end-of-life models, with the dates Bedrock gives. */
export async function checkLifecycle(control: BedrockClient, modelId: string, now: Date): Promise<void> {
  let details: unknown;
  try {
    details = await control.send(new GetFoundationModelCommand({ modelIdentifier: modelId }));
  } catch (error) {
    const e = classifyBedrockError(error, modelId);
    throw new Error(`cannot read the lifecycle of Bedrock model ${modelId} (GetFoundationModel): ${e.message}`);
  }
  const model = (
    details as {
      modelDetails?: {
        modelLifecycle?: { status?: string; legacyTime?: Date; endOfLifeTime?: Date };
        outputModalities?: string[];
      };
    }
  ).modelDetails;
  const lifecycle = model?.modelLifecycle;
  if (!lifecycle?.status) throw new Error(`Bedrock returned no lifecycle for ${modelId}; refusing to use it`);
  const eol = lifecycle.endOfLifeTime;
  if (eol && eol.getTime() <= now.getTime()) {
    throw new Error(
      `Bedrock model ${modelId} reached end of life on ${eol.toISOString().slice(0, 10)}; choose an ACTIVE model (see docs/synthetic.md)`,
    );
  }
  if (lifecycle.status !== "ACTIVE") {
    const dates = [
      lifecycle.legacyTime && `legacy since ${lifecycle.legacyTime.toISOString().slice(0, 10)}`,
      eol && `end of life ${eol.toISOString().slice(0, 10)}`,
    ]
      .filter(Boolean)
      .join(", ");
    throw new Error(
      `Bedrock model ${modelId} is ${lifecycle.status}${dates ? ` (${dates})` : ""}: refusing to generate with a model on its way out; choose an ACTIVE model (see docs/synthetic.md)`,
    );
  }
  if (model?.outputModalities && !model.outputModalities.includes("IMAGE")) {
    throw new Error(`Bedrock model ${modelId} does not output images (${model.outputModalities.join(", ")})`);
  }
}

function stabilityBody(modelId: string, r: GenerationRequest, source?: Uint8Array): Record<string, unknown> {
  const spec = STABILITY_MODELS[modelId]!;
  const body: Record<string, unknown> = { prompt: r.prompt, seed: r.seed, output_format: "jpeg" };
  if (r.negativePrompt) body.negative_prompt = r.negativePrompt;
  if (r.source && source) {
    body.mode = "image-to-image";
    body.image = Buffer.from(source).toString("base64");
    body.strength = r.source.strength;
  } else {
    if (spec.hasMode) body.mode = "text-to-image";
    body.aspect_ratio = r.aspectRatio;
  }
  return body;
}

function novaBody(r: GenerationRequest, source?: Uint8Array): Record<string, unknown> {
  const { width, height } = sizeOf(r.aspectRatio);
  const config = { numberOfImages: 1, width, height, quality: "standard", seed: r.seed % (NOVA_MAX_SEED + 1) };
  const text = r.prompt.slice(0, 1024);
  const negativeText = r.negativePrompt ? r.negativePrompt.slice(0, 1024) : undefined;
  if (r.source && source) {
    return {
      taskType: "IMAGE_VARIATION",
      imageVariationParams: {
        text,
        ...(negativeText ? { negativeText } : {}),
        images: [Buffer.from(source).toString("base64")],
        // Nova's similarity is the share kept (0.2–1.0); Stability's strength is the share replaced.
        similarityStrength: Math.min(1, Math.max(0.2, 1 - r.source.strength)),
      },
      imageGenerationConfig: config,
    };
  }
  return {
    taskType: "TEXT_IMAGE",
    textToImageParams: { text, ...(negativeText ? { negativeText } : {}) },
    imageGenerationConfig: config,
  };
}

function parseJson(raw: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(raw).toString("utf8"));
  } catch {
    throw new GenerationError("malformed-response", "Bedrock returned a body that is not JSON", false, true);
  }
}

function decodeImages(images: string[]): Uint8Array[] {
  return images.map((b64) => {
    const bytes = Buffer.from(b64, "base64");
    if (!imageFormat(bytes))
      throw new GenerationError(
        "malformed-response",
        "Bedrock returned an image that is not JPEG/PNG/WebP",
        false,
        true,
      );
    return new Uint8Array(bytes);
  });
}

export function parseStability(raw: Uint8Array): { bytes: Uint8Array; seed?: number }[] {
  const parsed = StabilityResponseSchema.safeParse(parseJson(raw));
  if (!parsed.success) {
    throw new GenerationError(
      "malformed-response",
      `Stability response does not match the documented shape: ${parsed.error.issues[0]?.message}`,
      false,
      true,
    );
  }
  const { images = [], seeds = [], finish_reasons } = parsed.data;
  const reason = finish_reasons.find((r) => r !== null);
  if (reason) {
    if (/^Filter reason/i.test(reason))
      throw new GenerationError("content-filtered", `Stability content filter: ${reason}`, false, true);
    throw new GenerationError("model-error", `Stability finish reason: ${reason}`, true, false);
  }
  if (images.length === 0)
    throw new GenerationError(
      "malformed-response",
      "Stability response has no images and no finish reason",
      false,
      true,
    );
  return decodeImages(images).map((bytes, i) => {
    const seed = Number(seeds[i]);
    return Number.isFinite(seed) ? { bytes, seed } : { bytes };
  });
}

function parseNova(raw: Uint8Array): { bytes: Uint8Array }[] {
  const parsed = NovaResponseSchema.safeParse(parseJson(raw));
  if (!parsed.success)
    throw new GenerationError(
      "malformed-response",
      `Nova Canvas response: ${parsed.error.issues[0]?.message}`,
      false,
      true,
    );
  if (parsed.data.error)
    throw new GenerationError("content-filtered", `Nova Canvas: ${parsed.data.error}`, false, true);
  if (!parsed.data.images?.length)
    throw new GenerationError("malformed-response", "Nova Canvas response has no images", false, true);
  return decodeImages(parsed.data.images).map((bytes) => ({ bytes }));
}

/** Maps the SDK's service exceptions onto the failure kinds the runner counts and reacts to. */
export function classifyBedrockError(error: unknown, modelId: string): GenerationError {
  if (error instanceof GenerationError) return error;
  const name = (error as { name?: string }).name ?? "Error";
  const message = (error as Error).message ?? String(error);
  switch (name) {
    case "ThrottlingException":
      return new GenerationError("throttled", `Bedrock throttled ${modelId}: ${message}`, true);
    case "ServiceQuotaExceededException":
      return new GenerationError(
        "quota-exceeded",
        `Bedrock quota exceeded for ${modelId}: ${message}; request a quota increase in Service Quotas`,
        false,
      );
    case "AccessDeniedException":
      return new GenerationError(
        "access-denied",
        `Bedrock denied access to ${modelId}: ${message}. On first use of a Marketplace model (Stability) the caller needs aws-marketplace:Subscribe and aws-marketplace:ViewSubscriptions once (or enable the model under Bedrock → Model access); the role also needs bedrock:InvokeModel on this model's ARN`,
        false,
      );
    case "ServiceUnavailableException":
    case "ModelNotReadyException":
    case "ModelTimeoutException":
    case "InternalServerException":
      return new GenerationError("unavailable", `Bedrock ${name} for ${modelId}: ${message}`, true);
    case "ModelErrorException":
      return new GenerationError("model-error", `Bedrock ${name} for ${modelId}: ${message}`, true);
    case "ValidationException":
    case "ResourceNotFoundException":
      return new GenerationError("invalid-request", `Bedrock ${name} for ${modelId}: ${message}`, false);
    default:
      return new GenerationError("unavailable", `Bedrock call to ${modelId} failed (${name}): ${message}`, true);
  }
}
