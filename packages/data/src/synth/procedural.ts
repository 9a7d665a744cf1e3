// The procedural "generator": the project's own scene renderer behind the ImageGenerator interface, so local mode and
// tests generate real images offline. The label is honoured by construction; image-to-image blends the render over
// the source frame, keeping (1 - strength) of the source, the way a diffusion i2i keeps the source's layout.
import sharp from "sharp";
import { Prng } from "../prng.ts";
import { NEGATIVE_CATEGORIES, POSITIVE_CATEGORIES, planScene, renderScene, type ScenePlan } from "../scene/scene.ts";
import {
  type GeneratedImage,
  GenerationError,
  type GenerationRequest,
  type ImageGenerator,
  sizeOf,
} from "./generator.ts";

export interface ProceduralOptions {
  /** Output size in megapixels (default 0.1: small, fast, enough for gates and tests). */
  megapixels?: number;
}

export const PROCEDURAL_MODEL = "roadwork-procedural-scenes@1";

export class ProceduralGenerator implements ImageGenerator {
  readonly id = "procedural";
  readonly model = PROCEDURAL_MODEL;
  readonly capabilities = { textToImage: true, imageToImage: true };
  constructor(private readonly options: ProceduralOptions = {}) {}

  async prepare(): Promise<void> {}

  async generate(request: GenerationRequest, sourceImage?: Uint8Array): Promise<GeneratedImage[]> {
    const { width, height } = sizeOf(request.aspectRatio, this.options.megapixels ?? 0.1);
    const plan = planFor(request, width, height);
    const { jpeg } = await renderScene(plan);
    let bytes: Uint8Array = jpeg;
    if (request.source) {
      if (!sourceImage)
        throw new GenerationError("invalid-request", "image-to-image request without its source image", false);
      bytes = await blendOver(sourceImage, jpeg, width, height, request.source.strength);
    }
    return [
      {
        bytes,
        format: "jpeg",
        provenance: {
          generator: this.id,
          model: this.model,
          mode: request.source ? "image-to-image" : "text-to-image",
          prompt: request.prompt,
          negativePrompt: request.negativePrompt,
          seed: request.seed,
          aspectRatio: request.aspectRatio,
          ...(request.source ? { parent: request.source } : {}),
          context: { ...request.context, category: plan.category },
          generatedAt: new Date().toISOString(),
        },
      },
    ];
  }
}

/** A scene plan from the seed whose label is the request's (the category follows the prompt's objects when named). */
function planFor(request: GenerationRequest, width: number, height: number): ScenePlan {
  const plan = planScene(request.seed, { width, height });
  if (plan.label === request.label) return plan;
  const rng = new Prng(`synth-label:${request.seed}`);
  const category = request.label === 1 ? rng.pick(POSITIVE_CATEGORIES) : rng.pick(NEGATIVE_CATEGORIES);
  return { ...plan, label: request.label, category };
}

async function blendOver(
  source: Uint8Array,
  render: Uint8Array,
  width: number,
  height: number,
  strength: number,
): Promise<Uint8Array> {
  const base = await sharp(source)
    .rotate()
    .resize(width, height, { fit: "cover" })
    .removeAlpha()
    .raw()
    .toBuffer()
    .catch((error: Error) => {
      throw new GenerationError("invalid-request", `source image does not decode: ${error.message}`, false);
    });
  const top = await sharp(render).resize(width, height, { fit: "fill" }).removeAlpha().raw().toBuffer();
  const out = Buffer.alloc(base.length);
  for (let i = 0; i < base.length; i++) out[i] = Math.round(base[i]! * (1 - strength) + top[i]! * strength);
  return sharp(out, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}
