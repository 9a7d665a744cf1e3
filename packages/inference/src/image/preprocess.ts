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
    /**
     * How a non-square frame reaches the model's square input. "letterbox" (default): the whole frame, aspect kept,
     * resized to fit and centred on a `letterbox_fill` background, so nothing at the frame's edges is cut off (a
     * 16:9 dashcam frame through DINOv2's shortest-edge resize + centre crop would lose 22 % of its width on each
     * side). "processor": exactly what the Hugging Face processor does, crop included. Square frames take the
     * processor's steps under both (Pillow-exact).
     */
    frame_policy: z.enum(["letterbox", "processor"]).default("letterbox"),
    /** Letterbox background as 8-bit RGB; default the normalization mean, so the bars are 0 after normalizing. */
    letterbox_fill: z
      .tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)])
      .optional(),
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

/** Whether this spec letterboxes an image of this size (non-square, letterbox policy, a fixed model size). */
function letterboxes(
  spec: Preprocessing,
  width: number,
  height: number,
): { height: number; width: number } | undefined {
  if (spec.frame_policy !== "letterbox" || width === height) return undefined;
  return outputSize(spec);
}

/** The whole frame scaled to fit `box`, aspect kept (each side at least 1 px). */
export function letterboxSize(
  width: number,
  height: number,
  box: { height: number; width: number },
): { width: number; height: number } {
  const s = Math.min(box.width / width, box.height / height);
  return {
    width: Math.max(1, Math.min(box.width, Math.round(width * s))),
    height: Math.max(1, Math.min(box.height, Math.round(height * s))),
  };
}

/** The fill of letterbox bars: `letterbox_fill`, else the normalization mean in 8-bit levels. */
export function letterboxFill(spec: Preprocessing): [number, number, number] {
  if (spec.letterbox_fill) return spec.letterbox_fill;
  if (!spec.do_normalize) return [0, 0, 0];
  return spec.image_mean.map((m) => Math.min(255, Math.max(0, Math.round(m * 255)))) as [number, number, number];
}

/** Centres `img` on a `box`-sized canvas of `fill`. */
function pad(img: RgbImage, box: { height: number; width: number }, fill: readonly number[]): RgbImage {
  const out = new Uint8Array(box.width * box.height * 3);
  for (let i = 0; i < box.width * box.height; i++) out.set(fill, i * 3);
  const left = Math.floor((box.width - img.width) / 2);
  const top = Math.floor((box.height - img.height) / 2);
  for (let y = 0; y < img.height; y++) {
    out.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), ((top + y) * box.width + left) * 3);
  }
  return { data: out, width: box.width, height: box.height, format: img.format };
}

/**
 * The size the first resize of `geometry` produces for a width × height image, or undefined when it does not resize.
 * The decoder uses it to decode large frames straight to this size.
 */
export function resizeTarget(
  spec: Preprocessing,
  width: number,
  height: number,
): { width: number; height: number } | undefined {
  const box = letterboxes(spec, width, height);
  if (box) return letterboxSize(width, height, box);
  if (!spec.do_resize) return undefined;
  const size = spec.size;
  if (!("shortest_edge" in size)) return { width: size.width, height: size.height };
  const se = size.shortest_edge;
  if (spec.crop_pct !== undefined) {
    return se < 384 ? shortestEdgeSize(width, height, Math.trunc(se / spec.crop_pct)) : { width: se, height: se };
  }
  return shortestEdgeSize(width, height, se);
}

/**
 * `img` resized to width × height, then centre-cropped to `crop` when given. A crop inside the resized image is
 * computed straight from the source (resizeRgb's window): the crop's pixels only, the same bytes as cropping after.
 */
function resizedCrop(
  img: RgbImage,
  width: number,
  height: number,
  resample: number,
  crop: { height: number; width: number } | undefined,
): RgbImage {
  if (!crop) return resized(img, width, height, resample);
  const inside = crop.width <= width && crop.height <= height;
  if (!inside || (width === img.width && height === img.height)) {
    return centerCrop(resized(img, width, height, resample), crop.width, crop.height);
  }
  // centerCrop's offsets for a crop that needs no padding.
  const left = Math.floor((width - crop.width) / 2);
  const top = Math.floor((height - crop.height) / 2);
  return {
    data: resizeRgb(img.data, img.width, img.height, width, height, resample, { left, top, ...crop }),
    width: crop.width,
    height: crop.height,
    format: img.format,
  };
}

/** Resize + crop stage only (uint8 RGB out), as the HF processor does before rescaling; letterboxes per the spec. */
export function geometry(img: RgbImage, spec: Preprocessing): RgbImage {
  const box = letterboxes(spec, img.width, img.height);
  if (box) {
    const fit = letterboxSize(img.width, img.height, box);
    return pad(resized(img, fit.width, fit.height, spec.resample), box, letterboxFill(spec));
  }
  let out = img;
  // The processor's final centre crop; taken into the resize before it where that resize is the last step.
  let crop: { height: number; width: number } | undefined;
  if (spec.do_center_crop && spec.crop_size !== undefined) {
    crop = typeof spec.crop_size === "number" ? { width: spec.crop_size, height: spec.crop_size } : spec.crop_size;
  }
  if (spec.do_resize) {
    const size = spec.size;
    if ("shortest_edge" in size) {
      if (spec.crop_pct !== undefined) {
        // ConvNextImageProcessor.resize
        const se = size.shortest_edge;
        if (se < 384) {
          const target = shortestEdgeSize(out.width, out.height, Math.trunc(se / spec.crop_pct));
          out = resizedCrop(out, target.width, target.height, spec.resample, { width: se, height: se });
        } else {
          out = resized(out, se, se, spec.resample);
        }
      } else {
        const target = shortestEdgeSize(out.width, out.height, size.shortest_edge);
        out = resizedCrop(out, target.width, target.height, spec.resample, crop);
        crop = undefined;
      }
    } else {
      out = resizedCrop(out, size.width, size.height, spec.resample, crop);
      crop = undefined;
    }
  }
  if (crop) out = centerCrop(out, crop.width, crop.height);
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

/** Per-channel `x · scale + bias` equivalent of rescale + normalize (for the in-graph preprocessing). */
export function affine(spec: Preprocessing): { scale: number[]; bias: number[] } {
  const r = spec.do_rescale ? spec.rescale_factor : 1;
  const scale: number[] = [];
  const bias: number[] = [];
  for (let c = 0; c < 3; c++) {
    const mean = spec.do_normalize ? (spec.image_mean[c] as number) : 0;
    const std = spec.do_normalize ? (spec.image_std[c] as number) : 1;
    scale.push(r / std);
    bias.push(-mean / std);
  }
  return { scale, bias };
}

/**
 * Rescale + normalize (float32 math as numpy does) of a geometry-stage image, written as CHW planes into `out` at
 * `offset` (a batch row), mirrored left-right when `flip` (test-time augmentation): no intermediate tensors.
 */
export function writeNormalized(
  g: RgbImage,
  spec: Preprocessing,
  out: Float32Array,
  offset: number,
  flip = false,
): void {
  const { width: w, height: h } = g;
  const plane = w * h;
  const lut = normalizationTable(spec);
  const src = g.data;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    const step = flip ? -3 : 3;
    let s = (flip ? row + w - 1 : row) * 3;
    for (let o = offset + row; o < offset + row + w; o++) {
      out[o] = lut[src[s] as number] as number;
      out[o + plane] = lut[256 + (src[s + 1] as number)] as number;
      out[o + 2 * plane] = lut[512 + (src[s + 2] as number)] as number;
      s += step;
    }
  }
}

const tables = new WeakMap<Preprocessing, Float32Array>();

/**
 * The normalized value of every 8-bit level, per channel (3 × 256): rescale and normalize depend on the level alone,
 * so each is computed once, with the same float32 steps numpy takes, instead of once per pixel.
 */
function normalizationTable(spec: Preprocessing): Float32Array {
  let lut = tables.get(spec);
  if (lut) return lut;
  lut = new Float32Array(3 * 256);
  const f = Math.fround;
  const scale = spec.do_rescale ? spec.rescale_factor : 1;
  for (let c = 0; c < 3; c++) {
    const mean = spec.do_normalize ? f(spec.image_mean[c] as number) : 0;
    const std = spec.do_normalize ? f(spec.image_std[c] as number) : 1;
    for (let level = 0; level < 256; level++) {
      const v = f(level * scale);
      lut[c * 256 + level] = f((v - mean) / std);
    }
  }
  tables.set(spec, lut);
  return lut;
}

/** Copies a geometry-stage image as one NHWC uint8 batch row (for the in-graph preprocessing), mirrored when `flip`. */
export function writeHwc(g: RgbImage, out: Uint8Array, offset: number, flip = false): void {
  if (!flip) {
    out.set(g.data, offset);
    return;
  }
  const { width: w, height: h } = g;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + (w - 1 - x)) * 3;
      const o = offset + (y * w + x) * 3;
      out[o] = g.data[s] as number;
      out[o + 1] = g.data[s + 1] as number;
      out[o + 2] = g.data[s + 2] as number;
    }
  }
}

/** Full pipeline: geometry, then rescale and normalize (float32 math as numpy does), written as CHW. */
export function preprocess(img: RgbImage, spec: Preprocessing): PixelTensor {
  const g = geometry(img, spec);
  const out = new Float32Array(g.width * g.height * 3);
  writeNormalized(g, spec, out, 0);
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
