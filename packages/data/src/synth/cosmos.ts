// A hosted generator endpoint speaking NVIDIA's NIM for Cosmos API (docs.nvidia.com/nim/cosmos, API reference):
// `GET /v1/health/ready` → {"status":"ready"}, `POST /v1/infer` with {prompt, negative_prompt, seed, guidance_scale,
// steps, prompt_upsampling, video_params:{height,width,frames_count,frames_per_sec}} (+ `image` as a data URL for
// image conditioning) → {"b64_video": …, "upsampled_prompt": …}. We ask for a single frame. The payload is used
// directly when it is an image; an MP4 needs a frame extractor (ffmpeg), injected by the composition root.
// Paths and headers are options, so the same adapter drives any endpoint with this shape the operator points it at.
import { z } from "zod";
import {
  type GeneratedImage,
  GenerationError,
  type GenerationRequest,
  type ImageGenerator,
  imageFormat,
  sizeOf,
} from "./generator.ts";

const InferResponseSchema = z
  .object({
    b64_video: z.string().min(1).optional(),
    b64_image: z.string().min(1).optional(),
    upsampled_prompt: z.string().optional(),
    seed: z.number().optional(),
  })
  .refine((r) => r.b64_video || r.b64_image, "neither b64_video nor b64_image");

const ReadySchema = z.object({ status: z.string() });

export interface CosmosOptions {
  /** e.g. http://10.0.3.7:8000 */
  baseUrl: string;
  inferPath?: string;
  readyPath?: string;
  /** Extra headers, e.g. an Authorization bearer for a hosted endpoint (never logged). */
  headers?: Record<string, string>;
  guidanceScale?: number;
  steps?: number;
  /** Output size in megapixels (default 0.9, the 1280×704 class the Cosmos models generate). */
  megapixels?: number;
  timeoutMs?: number;
  /** Turns an MP4 payload into its first frame (JPEG/PNG); without it, a video response is a malformed response. */
  extractFrame?: (video: Uint8Array) => Promise<Uint8Array>;
  fetch?: typeof fetch;
}

export class CosmosGenerator implements ImageGenerator {
  readonly id: string;
  readonly model: string;
  readonly capabilities = { textToImage: true, imageToImage: true };
  private readonly base: string;

  constructor(private readonly options: CosmosOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new Error(`cosmos endpoint '${options.baseUrl}' is not a URL; use cosmos:http://host:8000`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new Error(`cosmos endpoint must be http(s): ${options.baseUrl}`);
    this.base = url.toString().replace(/\/$/, "");
    this.id = `cosmos:${this.base}`;
    this.model = "cosmos-nim";
  }

  private get fetch(): typeof fetch {
    return this.options.fetch ?? fetch;
  }

  async prepare(): Promise<void> {
    let res: Response;
    try {
      res = await this.fetch(`${this.base}${this.options.readyPath ?? "/v1/health/ready"}`, {
        headers: this.options.headers ?? {},
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new Error(
        `cosmos endpoint ${this.base} is unreachable: ${(error as Error).message}; is the GPU task running?`,
      );
    }
    const body = ReadySchema.safeParse(await res.json().catch(() => undefined));
    if (!res.ok || !body.success || body.data.status !== "ready") {
      throw new Error(
        `cosmos endpoint ${this.base} is not ready (HTTP ${res.status}${body.success ? `, status ${body.data.status}` : ""}); wait for the model to load`,
      );
    }
  }

  async generate(request: GenerationRequest, sourceImage?: Uint8Array): Promise<GeneratedImage[]> {
    const { width, height } = sizeOf(request.aspectRatio, this.options.megapixels ?? 0.9);
    const body: Record<string, unknown> = {
      prompt: request.prompt,
      negative_prompt: request.negativePrompt,
      seed: request.seed,
      guidance_scale: this.options.guidanceScale ?? 7,
      steps: this.options.steps ?? 35,
      prompt_upsampling: false,
      video_params: { height, width, frames_count: 1, frames_per_sec: 24 },
    };
    if (request.source) {
      if (!sourceImage)
        throw new GenerationError("invalid-request", "image-to-image request without its source image", false);
      body.image = `data:image/${imageFormat(sourceImage) ?? "jpeg"};base64,${Buffer.from(sourceImage).toString("base64")}`;
    }
    let res: Response;
    try {
      res = await this.fetch(`${this.base}${this.options.inferPath ?? "/v1/infer"}`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", ...(this.options.headers ?? {}) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 600_000),
      });
    } catch (error) {
      throw new GenerationError("unavailable", `cosmos endpoint ${this.base}: ${(error as Error).message}`, true);
    }
    if (!res.ok) throw await httpError(res, this.base);
    const parsed = InferResponseSchema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) {
      throw new GenerationError(
        "malformed-response",
        `cosmos endpoint ${this.base} answered outside the NIM shape: ${parsed.error.issues[0]?.message}`,
        false,
        true,
      );
    }
    const payload = new Uint8Array(Buffer.from((parsed.data.b64_image ?? parsed.data.b64_video)!, "base64"));
    let bytes: Uint8Array = payload;
    if (!imageFormat(payload)) {
      if (!this.options.extractFrame) {
        throw new GenerationError(
          "malformed-response",
          `cosmos endpoint ${this.base} returned a video; configure a frame extractor (ffmpeg) or an image model`,
          false,
          true,
        );
      }
      bytes = await this.options.extractFrame(payload);
      if (!imageFormat(bytes))
        throw new GenerationError("malformed-response", "the extracted frame is not an image", false, true);
    }
    return [
      {
        bytes,
        format: imageFormat(bytes)!,
        provenance: {
          generator: this.id,
          model: this.model,
          mode: request.source ? "image-to-image" : "text-to-image",
          prompt: parsed.data.upsampled_prompt ?? request.prompt,
          negativePrompt: request.negativePrompt,
          seed: parsed.data.seed ?? request.seed,
          aspectRatio: request.aspectRatio,
          ...(request.source ? { parent: request.source } : {}),
          context: request.context,
          generatedAt: new Date().toISOString(),
        },
      },
    ];
  }
}

async function httpError(res: Response, base: string): Promise<GenerationError> {
  const text = (await res.text().catch(() => "")).slice(0, 300);
  const what = `cosmos endpoint ${base}: HTTP ${res.status} ${text}`;
  if (res.status === 429) return new GenerationError("throttled", what, true);
  if (res.status === 401 || res.status === 403)
    return new GenerationError("access-denied", `${what}; check the endpoint's credentials`, false);
  if (/guardrail|safety|blocked|filtered/i.test(text))
    return new GenerationError("content-filtered", what, false, true);
  if (res.status === 400 || res.status === 422) return new GenerationError("invalid-request", what, false);
  if (res.status === 503 || res.status === 502 || res.status === 504)
    return new GenerationError("unavailable", what, true);
  return new GenerationError("model-error", what, true);
}
