// Hugging Face image-processor semantics (ViTImageProcessor, BitImageProcessor as used by DINOv2,
// ConvNextImageProcessor) applied to decoded RGB: resize → center crop → rescale → normalize → NCHW float32.
// The spec uses preprocessor_config.json's own keys so a bundle can carry that file's content verbatim.
import { z } from "zod";
import type { RgbImage } from "./decode.ts";
import { resizeRgb } from "./resample.ts";

export const IMAGENET_DEFAULT_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_DEFAULT_STD = [0.229, 0.224, 0.225] as const;

const SizeSchema = z.union([
  z.object({ height: z.number().int().positive(), width: z.number().int().positive() }),
  z.object({ shortest_edge: z.number().int().positive() }),
]);
const Triple = z.tuple([z.number(), z.number(), z.number()]);

export const PreprocessingSchema = z
  .object({
    image_processor_type: z.string().optional(),
    do_resize: z.boolean().default(true),
    size: SizeSchema.default({ height: 224, width: 224 }),
    /** PIL code: 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming. */
    resample: z.number().int().min(1).max(5).default(2),
    /** ConvNext: resize the shortest edge to shortest_edge / crop_pct, then center-crop shortest_edge² (below 384). */
    crop_pct: z.number().positive().max(1).optional(),
    do_center_crop: z.boolean().default(false),
    crop_size: z
      .union([z.object({ height: z.number().int().positive(), width: z.number().int().positive() }), z.number().int()])
      .optional(),
    do_rescale: z.boolean().default(true),
    rescale_factor: z
      .number()
      .positive()
      .default(1 / 255),
    do_normalize: z.boolean().default(true),
    image_mean: Triple.default([...IMAGENET_DEFAULT_MEAN]),
    image_std: Triple.default([...IMAGENET_DEFAULT_STD]),
    do_convert_rgb: z.boolean().default(true),
  })
  .loose();
export type Preprocessing = z.output<typeof PreprocessingSchema>;
export type PreprocessingInput = z.input<typeof PreprocessingSchema>;

/** Parses (and defaults) a preprocessor_config-like object; throws a readable error on bad fields. */
export function parsePreprocessing(input: unknown): Preprocessing {
  const parsed = PreprocessingSchema.safeParse(input ?? {});
  if (!parsed.success) throw new Error(`invalid preprocessing: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** transformers' get_resize_output_image_size(default_to_square=False): shortest edge to `size`, keep aspect. */
export function shortestEdgeSize(width: number, height: number, size: number): { width: number; height: number } {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const newLong = Math.trunc((size * long) / short);
  return width <= height ? { width: size, height: newLong } : { width: newLong, height: size };
}

/** transformers' center_crop: floor-centred, zero-padded where the image is smaller than the crop. */
export function centerCrop(img: RgbImage, cropW: number, cropH: number): RgbImage {
  if (cropW === img.width && cropH === img.height) return img;
  const newH = Math.max(cropH, img.height);
  const newW = Math.max(cropW, img.width);
  const topPad = Math.ceil((newH - img.height) / 2);
  const leftPad = Math.ceil((newW - img.width) / 2);
  const top = Math.floor((img.height - cropH) / 2) + topPad;
  const left = Math.floor((img.width - cropW) / 2) + leftPad;
  const out = new Uint8Array(cropW * cropH * 3);
  for (let y = 0; y < cropH; y++) {
    const sy = top + y - topPad; // row in the original image
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < cropW; x++) {
      const sx = left + x - leftPad;
      if (sx < 0 || sx >= img.width) continue;
      const s = (sy * img.width + sx) * 3;
      const o = (y * cropW + x) * 3;
      out[o] = img.data[s] as number;
      out[o + 1] = img.data[s + 1] as number;
      out[o + 2] = img.data[s + 2] as number;
    }
  }
  return { data: out, width: cropW, height: cropH, format: img.format };
}

function resized(img: RgbImage, width: number, height: number, resample: number): RgbImage {
  if (width === img.width && height === img.height) return img;
  return {
    data: resizeRgb(img.data, img.width, img.height, width, height, resample),
    width,
    height,
    format: img.format,
  };
}

/** Resize + crop stage only (uint8 RGB out), as the HF processor does before rescaling. */
export function geometry(img: RgbImage, spec: Preprocessing): RgbImage {
  let out = img;
  if (spec.do_resize) {
    const size = spec.size;
    if ("shortest_edge" in size) {
      if (spec.crop_pct !== undefined) {
        // ConvNextImageProcessor.resize
        const se = size.shortest_edge;
        if (se < 384) {
          const target = shortestEdgeSize(out.width, out.height, Math.trunc(se / spec.crop_pct));
          out = resized(out, target.width, target.height, spec.resample);
          out = centerCrop(out, se, se);
        } else {
          out = resized(out, se, se, spec.resample);
        }
      } else {
        const target = shortestEdgeSize(out.width, out.height, size.shortest_edge);
        out = resized(out, target.width, target.height, spec.resample);
      }
    } else {
      out = resized(out, size.width, size.height, spec.resample);
    }
  }
  if (spec.do_center_crop && spec.crop_size !== undefined) {
    const c = typeof spec.crop_size === "number" ? { width: spec.crop_size, height: spec.crop_size } : spec.crop_size;
    out = centerCrop(out, c.width, c.height);
  }
  return out;
}

/** The [H, W] a spec produces regardless of input size, or undefined when it depends on the input's aspect. */
export function outputSize(spec: Preprocessing): { height: number; width: number } | undefined {
  if (spec.do_center_crop && spec.crop_size !== undefined) {
    return typeof spec.crop_size === "number" ? { height: spec.crop_size, width: spec.crop_size } : spec.crop_size;
  }
  if (!spec.do_resize) return undefined;
  if ("shortest_edge" in spec.size) {
    return spec.crop_pct !== undefined
      ? { height: spec.size.shortest_edge, width: spec.size.shortest_edge }
      : undefined;
  }
  return spec.size;
}

/** A preprocessed image: float32 CHW planes for one batch row. */
export interface PixelTensor {
  data: Float32Array;
  height: number;
  width: number;
}

/** Full pipeline: geometry, then rescale and normalize (float32 math as numpy does), written as CHW. */
export function preprocess(img: RgbImage, spec: Preprocessing): PixelTensor {
  const g = geometry(img, spec);
  const plane = g.width * g.height;
  const out = new Float32Array(plane * 3);
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    const mean = spec.do_normalize ? f(spec.image_mean[c] as number) : 0;
    const std = spec.do_normalize ? f(spec.image_std[c] as number) : 1;
    const scale = spec.do_rescale ? spec.rescale_factor : 1;
    for (let i = 0; i < plane; i++) {
      const v = f((g.data[i * 3 + c] as number) * scale);
      out[c * plane + i] = f((v - mean) / std);
    }
  }
  return { data: out, height: g.height, width: g.width };
}

/** Mirrors a CHW tensor left-right (test-time augmentation). */
export function hflip(t: PixelTensor): PixelTensor {
  const out = new Float32Array(t.data.length);
  const { width: w, height: h } = t;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      const row = (c * h + y) * w;
      for (let x = 0; x < w; x++) out[row + x] = t.data[row + w - 1 - x] as number;
    }
  }
  return { data: out, height: h, width: w };
}
