// Image generation on the loopback Bedrock (test/support/fake-bedrock.ts): InvokeModel (`POST /model/<id>/invoke`)
// for the Stability models and Nova Canvas, with the request bodies checked against what AWS documents and real JPEGs
// in the documented response shape; and the control plane's GetFoundationModel (`GET /foundation-models/<id>`) with a
// lifecycle per model. A script makes the next calls throttle, hit a quota, be denied, be content-filtered, come back
// malformed or fail, the way Bedrock does.
import { Synth } from "@roadwork/data";
import { z } from "zod";
import { awsError, type FakeBedrock, type FakeResponse, jsonResponse } from "./fake-bedrock.ts";

const StabilityBody = z
  .object({
    prompt: z.string().min(1).max(10_000),
    negative_prompt: z.string().max(10_000).optional(),
    seed: z.number().int().min(0).max(4_294_967_294).optional(),
    aspect_ratio: z.enum(Synth.ASPECT_RATIOS).optional(),
    mode: z.enum(["text-to-image", "image-to-image"]).optional(),
    image: z.string().min(1).optional(),
    strength: z.number().min(0).max(1).optional(),
    output_format: z.enum(["jpeg", "png", "webp"]).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.mode === "image-to-image" && (!b.image || b.strength === undefined)) {
      ctx.addIssue({ code: "custom", message: "image-to-image requires image and strength" });
    }
    if (b.mode === "image-to-image" && b.aspect_ratio) {
      ctx.addIssue({ code: "custom", message: "aspect_ratio is only valid for text-to-image requests" });
    }
    if (b.mode !== "image-to-image" && (b.image || b.strength !== undefined)) {
      ctx.addIssue({ code: "custom", message: "image and strength need mode image-to-image" });
    }
  });

const NovaBody = z.object({
  taskType: z.enum(["TEXT_IMAGE", "IMAGE_VARIATION"]),
  textToImageParams: z
    .object({ text: z.string().min(1).max(1024), negativeText: z.string().max(1024).optional() })
    .optional(),
  imageVariationParams: z
    .object({
      text: z.string().max(1024).optional(),
      negativeText: z.string().max(1024).optional(),
      images: z.array(z.string().min(1)).min(1).max(5),
      similarityStrength: z.number().min(0.2).max(1).optional(),
    })
    .optional(),
  imageGenerationConfig: z
    .object({
      numberOfImages: z.number().int().min(1).max(5).optional(),
      width: z.number().int().optional(),
      height: z.number().int().optional(),
      quality: z.enum(["standard", "premium"]).optional(),
      cfgScale: z.number().optional(),
      seed: z.number().int().min(0).max(858_993_459).optional(),
    })
    .optional(),
});

export type ImageOutcome =
  | { kind: "image" }
  | { kind: "throttle" }
  | { kind: "quota" }
  | { kind: "access-denied" }
  | { kind: "filter"; reason: string }
  | { kind: "malformed"; body: string }
  | { kind: "model-error" }
  /** Answers with this exact image (e.g. a blurred or repeated one). */
  | { kind: "fixed"; bytes: Uint8Array };

export interface ImageCall {
  modelId: string;
  body: Record<string, unknown>;
  status: number;
}

export interface LifecycleInfo {
  status: "ACTIVE" | "LEGACY";
  legacyTime?: Date;
  endOfLifeTime?: Date;
}

const DEFAULT_LIFECYCLE: Record<string, LifecycleInfo> = {
  "stability.sd3-5-large-v1:0": { status: "ACTIVE" },
  "stability.stable-image-core-v1:1": { status: "ACTIVE" },
  "stability.stable-image-ultra-v1:1": { status: "ACTIVE" },
  "amazon.nova-canvas-v1:0": { status: "ACTIVE" },
  // Retired Stability generation, still answering GetFoundationModel.
  "stability.stable-diffusion-xl-v1": {
    status: "LEGACY",
    legacyTime: new Date("2025-04-30T00:00:00Z"),
    endOfLifeTime: new Date("2025-10-30T00:00:00Z"),
  },
  "stability.sd3-large-v1:0": {
    status: "LEGACY",
    legacyTime: new Date("2026-09-01T00:00:00Z"),
    endOfLifeTime: new Date("2027-03-01T00:00:00Z"),
  },
};

/** What the fake's image routes do; tests script outcomes and read the calls. */
export class FakeImageModels {
  readonly calls: ImageCall[] = [];
  readonly lifecycle = new Map<string, LifecycleInfo>(Object.entries(DEFAULT_LIFECYCLE));
  #queue: ImageOutcome[] = [];
  #always?: ImageOutcome;
  readonly #renderer = new Synth.ProceduralGenerator({ megapixels: 0.12 });

  /** The next calls' outcomes, in order; after them, images. */
  next(...outcomes: ImageOutcome[]): this {
    this.#queue.push(...outcomes);
    return this;
  }

  /** Every call from now on (until `reset`). */
  always(outcome: ImageOutcome): this {
    this.#always = outcome;
    return this;
  }

  reset(): this {
    this.#queue = [];
    this.#always = undefined;
    return this;
  }

  install(fake: FakeBedrock): this {
    fake.route("POST", "/model/:modelId/invoke", async (req) => {
      const modelId = req.params.modelId ?? "";
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(req.body.toString("utf8"));
      } catch {
        return this.#record(
          modelId,
          {},
          awsError(400, "ValidationException", "Malformed input request, please reformat your input and try again."),
        );
      }
      return this.#record(modelId, json, await this.#invoke(modelId, json));
    });
    fake.route("GET", "/foundation-models/:modelId", (req) => {
      const modelId = req.params.modelId ?? "";
      const life = this.lifecycle.get(modelId);
      if (!life) return awsError(404, "ResourceNotFoundException", `The model ${modelId} does not exist.`);
      const provider = modelId.startsWith("amazon.") ? "Amazon" : "Stability AI";
      return jsonResponse({
        modelDetails: {
          modelArn: `arn:aws:bedrock:${fake.region}::foundation-model/${modelId}`,
          modelId,
          modelName: modelId,
          providerName: provider,
          inputModalities: ["TEXT", "IMAGE"],
          outputModalities: ["IMAGE"],
          responseStreamingSupported: false,
          customizationsSupported: [],
          inferenceTypesSupported: ["ON_DEMAND"],
          modelLifecycle: {
            status: life.status,
            ...(life.legacyTime ? { legacyTime: life.legacyTime.toISOString() } : {}),
            ...(life.endOfLifeTime ? { endOfLifeTime: life.endOfLifeTime.toISOString() } : {}),
          },
        },
      });
    });
    return this;
  }

  #record(modelId: string, body: Record<string, unknown>, response: FakeResponse): FakeResponse {
    this.calls.push({ modelId, body, status: response.status });
    return response;
  }

  async #invoke(modelId: string, json: Record<string, unknown>): Promise<FakeResponse> {
    const life = this.lifecycle.get(modelId);
    if (!life) return awsError(404, "ResourceNotFoundException", "The provided model identifier is invalid.");
    if (life.endOfLifeTime && life.endOfLifeTime.getTime() <= Date.now()) {
      return awsError(404, "ResourceNotFoundException", "This model version has reached the end of its life.");
    }
    const nova = modelId.startsWith("amazon.nova-canvas");
    const parsed = nova ? NovaBody.safeParse(json) : StabilityBody.safeParse(json);
    if (!parsed.success)
      return awsError(400, "ValidationException", parsed.error.issues.map((i) => i.message).join("; "));
    const outcome = this.#queue.shift() ?? this.#always ?? { kind: "image" };
    switch (outcome.kind) {
      case "throttle":
        return awsError(429, "ThrottlingException", "Too many requests, please wait before trying again.");
      case "quota":
        return awsError(
          400,
          "ServiceQuotaExceededException",
          "Your request exceeds the service quota for your account.",
        );
      case "access-denied":
        return awsError(
          403,
          "AccessDeniedException",
          "Model access is denied due to IAM user or service role is not authorized to perform the required AWS Marketplace actions (aws-marketplace:ViewSubscriptions, aws-marketplace:Subscribe) to enable access to this model.",
        );
      case "model-error":
        return awsError(424, "ModelErrorException", "The model failed to process the request.");
      case "malformed":
        return { status: 200, headers: { "content-type": "application/json" }, body: outcome.body };
      case "filter":
        return nova
          ? jsonResponse({ images: [], error: outcome.reason })
          : jsonResponse({ seeds: [json.seed ?? 0], finish_reasons: [outcome.reason], images: [] });
    }
    const bytes = outcome.kind === "fixed" ? outcome.bytes : await this.#render(json, nova);
    const b64 = Buffer.from(bytes).toString("base64");
    return nova
      ? jsonResponse({ images: [b64] })
      : jsonResponse({ seeds: [json.seed ?? 1], finish_reasons: [null], images: [b64] });
  }

  /** The "model": the project's scene renderer, roadwork when the prompt names it, blended over the source for i2i. */
  async #render(json: Record<string, unknown>, nova: boolean): Promise<Uint8Array> {
    const prompt = String(
      nova ? (((json.textToImageParams ?? json.imageVariationParams) as { text?: string })?.text ?? "") : json.prompt,
    );
    const label: 0 | 1 = /cone|barrier|worker|roadwork sign|excavator|roller/i.test(prompt) ? 1 : 0;
    const seed = Math.max(1, Number((nova ? (json.imageGenerationConfig as { seed?: number })?.seed : json.seed) ?? 1));
    const sourceB64 = nova
      ? (json.imageVariationParams as { images?: string[] })?.images?.[0]
      : (json.image as string | undefined);
    const strength = nova
      ? 1 - Number((json.imageVariationParams as { similarityStrength?: number })?.similarityStrength ?? 0.3)
      : Number(json.strength ?? 0.7);
    const request = Synth.GenerationRequestSchema.parse({
      requestId: "fake",
      prompt,
      label,
      seed,
      ...(sourceB64 ? { source: { id: "src", group: "g", strength } } : { aspectRatio: json.aspect_ratio ?? "1:1" }),
    });
    const [image] = await this.#renderer.generate(request, sourceB64 ? Buffer.from(sourceB64, "base64") : undefined);
    return image!.bytes;
  }
}
