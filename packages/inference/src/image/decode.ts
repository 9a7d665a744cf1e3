// Untrusted image bytes → RGB pixels. Everything a stranger can send is checked from the header before decoding,
// so a decompression bomb costs a header parse, not gigabytes of memory.
import sharp, { type Metadata } from "sharp";
import { ImageInputError } from "../scorer.ts";
import { displaySize, type ImageHeader, readImageHeader } from "./header.ts";
import { decodePlainJpeg, defaultJpegDecoder, type JpegDecoderChoice } from "./jpeg-fast-path.ts";

export interface DecodeOptions {
  /** Largest width × height accepted (checked from the header before decoding). */
  maxPixels?: number;
  /** Smallest side accepted, in pixels. */
  minSide?: number;
  /**
   * Larger images are first shrunk by sharp to fit this side (default 2048), so the exact-PIL resize that follows
   * never runs over tens of megapixels on the event loop. Validator images (224×224) are far below it.
   */
  maxSide?: number;
  /**
   * The size the preprocessing will resize this image to, given its displayed size (EXIF orientation applied), or
   * undefined when it keeps the image as it is. When the image is at least twice that size on both axes it is decoded
   * straight to that size by libvips (JPEG: libjpeg's DCT scaling, shrink-on-load; WebP: scaled decoding), so a
   * 1920×1080 frame costs a 1/4-scale decode instead of a full one and a 2-megapixel buffer. Smaller images keep the
   * full decode and the exact Pillow resize.
   */
  resizeTo?: (width: number, height: number) => { width: number; height: number; resample?: number } | undefined;
  /**
   * libvips worker threads per decode (sharp.concurrency, process-wide; default 0 = libvips' default, one per core).
   * Measured on the 16-core H200 host (bench/phases.ts): one thread decodes a 224×224 JPEG in 1.97 ms p50 against
   * 1.86 ms with 16, and a 1920×1080 frame in 11.05 against 10.97 ms, so the default stays.
   */
  threads?: number;
  /**
   * Who decodes a plain JPEG kept at full size (the validators' 224×224 q75): "auto" (default, or
   * ROADWORK_JPEG_DECODER) the synchronous WebAssembly libjpeg-turbo when the thread can afford it, "wasm" always,
   * "sharp" never. The bytes are the same either way; see jpeg-fast-path.ts for when each is faster.
   */
  jpegDecoder?: JpegDecoderChoice;
}

/** Decoded image: 8-bit sRGB, interleaved HWC, 3 channels, EXIF orientation applied, alpha composited on white. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
  /** Source container format (jpeg, png, webp). */
  format: string;
}

export const DEFAULT_MAX_PIXELS = 40_000_000;
export const DEFAULT_MIN_SIDE = 8;
export const DEFAULT_MAX_SIDE = 2048;
export const DEFAULT_DECODE_THREADS = 0;
/** Below this ratio of image to target size the exact Pillow resize is used (as PIL's reducing_gap). */
export const SHRINK_ON_LOAD_GAP = 2;
/** PIL resample code → libvips kernel (cubic is Catmull-Rom, PIL's bicubic; box and hamming have no twin). */
const SHARP_KERNELS: Record<number, "lanczos3" | "linear" | "cubic"> = { 1: "lanczos3", 2: "linear", 3: "cubic" };
/** Formats a validator or client may legitimately send; SVG/PDF/TIFF/HEIF etc. are refused before decoding. */
export const ACCEPTED_FORMATS: ReadonlySet<string> = new Set(["jpeg", "png", "webp"]);

/**
 * The pixel-budget hook: everything decodeImage checks before decoding (format, pixel count, smallest side), from the
 * header alone, synchronously, in microseconds (no native call). Throws the same ImageInputError decodeImage would.
 * Returns the header, whose width × height bounds what a decode can allocate (3 bytes per pixel, less when the image
 * is decoded at a reduced scale).
 */
export function inspectImage(
  bytes: Uint8Array,
  options: Pick<DecodeOptions, "maxPixels" | "minSide"> = {},
): ImageHeader {
  if (bytes.length === 0) throw new ImageInputError("image is empty", "not_image");
  const header = readImageHeader(bytes);
  if (!header) throw new ImageInputError("not a JPEG, PNG or WebP image (unreadable header)", "not_image");
  checkBudget(header.width, header.height, options);
  return header;
}

function checkBudget(width: number, height: number, options: Pick<DecodeOptions, "maxPixels" | "minSide">): void {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const minSide = options.minSide ?? DEFAULT_MIN_SIDE;
  if (!width || !height) throw new ImageInputError("image header has no dimensions", "corrupt");
  if (width * height > maxPixels) {
    throw new ImageInputError(
      `image is ${width}x${height} = ${width * height} pixels, more than the ${maxPixels} accepted`,
      "too_many_pixels",
    );
  }
  if (Math.min(width, height) < minSide) {
    throw new ImageInputError(`image is ${width}x${height}; each side must be at least ${minSide} px`, "too_small");
  }
}

/** The header from our own parser, or (for anything else) sharp's metadata, so the error can name the format. */
async function header(bytes: Uint8Array): Promise<ImageHeader> {
  const parsed = readImageHeader(bytes);
  if (parsed) return parsed;
  let meta: Metadata;
  try {
    // Header only: sharp's metadata() does not decode pixels.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new ImageInputError(`not a decodable image: ${reason(error)}`, "not_image");
  }
  const format = meta.format ?? "unknown";
  if (!ACCEPTED_FORMATS.has(format)) {
    throw new ImageInputError(`unsupported image format '${format}' (send JPEG, PNG or WebP)`, "unsupported");
  }
  // An accepted format our parser could not read (an unusual but valid header): let sharp describe it.
  return {
    format: format as ImageHeader["format"],
    width: meta.width ?? 0,
    height: meta.height ?? 0,
    orientation: meta.orientation ?? 1,
    channels: meta.channels ?? 3,
    wide: true,
    alpha: meta.hasAlpha ?? false,
  };
}

/** How an image will be decoded: straight to `target` (shrink-on-load) or in full, and the pixels that allocates. */
export interface DecodePlan {
  /** The size libvips resizes to while decoding; undefined: a full decode. */
  target?: { width: number; height: number; resample?: number };
  /** libjpeg's DCT scaling denominator (1, 2, 4 or 8) for a shrink-on-load JPEG; 1 otherwise. */
  jpegShrink: number;
  /** Pixels the decode allocates: the scaled JPEG plus the resized output, or the whole image. */
  pixels: number;
}

/**
 * The decode plan for an image with this header: what decodeImage will do, without decoding. The pixel budget charges
 * `pixels`. Only a JPEG decoded with shrink-on-load is charged less than its header's width × height: libjpeg never
 * builds the full-size image. PNG and WebP (and a JPEG that must be rotated first) are charged in full, so a bomb is
 * refused by its header as before.
 */
export function planDecode(h: ImageHeader, resizeTo?: DecodeOptions["resizeTo"]): DecodePlan {
  const shown = displaySize(h);
  const full = { jpegShrink: 1, pixels: h.width * h.height };
  const target = resizeTo?.(shown.width, shown.height);
  if (!target || shown.width < SHRINK_ON_LOAD_GAP * target.width || shown.height < SHRINK_ON_LOAD_GAP * target.height) {
    return full;
  }
  if (h.format !== "jpeg" || h.orientation !== 1) return { ...full, target };
  const jpegShrink = sharpJpegShrink(h.width / target.width, h.height / target.height);
  const decoded = Math.ceil(h.width / jpegShrink) * Math.ceil(h.height / jpegShrink);
  return { target, jpegShrink, pixels: decoded + target.width * target.height };
}

/** sharp 0.35's shrink-on-load choice for a JPEG resized with `fit: "fill"` (src/pipeline.cc, fastShrinkOnLoad). */
function sharpJpegShrink(hshrink: number, vshrink: number): number {
  const shrink = Math.min(hshrink, vshrink);
  let s = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  // sharp halves it when the shrink's integer part equals it (a guard against libjpeg rounding).
  if (s > 1 && Math.floor(shrink) === s) s /= 2;
  return s;
}

/**
 * Pixels decoding `bytes` will allocate (planDecode), from the header alone; undefined when our parser cannot read the
 * header (the caller charges its maximum and lets the decoder decide).
 */
export function decodedPixels(bytes: Uint8Array, resizeTo?: DecodeOptions["resizeTo"]): number | undefined {
  const h = readImageHeader(bytes);
  return h ? planDecode(h, resizeTo).pixels : undefined;
}

export async function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.length === 0) throw new ImageInputError("image is empty", "not_image");
  const h = await header(bytes);
  const format = h.format;
  checkBudget(h.width, h.height, options);

  const shown = displaySize(h);
  const { target } = planDecode(h, options.resizeTo);
  const maxSide = options.maxSide ?? DEFAULT_MAX_SIDE;
  const resized = target !== undefined || Math.max(shown.width, shown.height) > maxSide;
  // A plain 8-bit YCbCr JPEG decodes to sRGB as is; everything else goes through the conversions.
  const plain = format === "jpeg" && h.channels === 3 && !h.wide;
  if (plain && !h.icc && h.orientation === 1 && !resized) {
    // Exactly the pixels sharp would give (no rotation, colour conversion or resize on its side); a JPEG the fast
    // path does not take, or that libjpeg warns about (a truncated file), goes on to sharp below.
    const rgb = decodePlainJpeg(bytes, options.jpegDecoder ?? defaultJpegDecoder());
    if (rgb) return { ...rgb, format };
  }
  setDecodeThreads(options.threads ?? DEFAULT_DECODE_THREADS);
  try {
    let pipeline = sharp(bytes, {
      limitInputPixels: maxPixels,
      failOn: "error",
      // Our parser reads EXIF orientation from JPEGs only; other formats keep sharp's own check.
      autoOrient: h.format !== "jpeg" || h.orientation !== 1,
    });
    if (target) {
      // Straight to the preprocessing's size: libvips picks the JPEG shrink-on-load factor (1/2, 1/4, 1/8) and
      // finishes with an antialiased reduction using the kernel closest to the spec's PIL filter.
      pipeline = pipeline.resize({
        width: target.width,
        height: target.height,
        fit: "fill",
        kernel: SHARP_KERNELS[target.resample ?? 3] ?? "cubic",
        fastShrinkOnLoad: true,
      });
    } else if (Math.max(shown.width, shown.height) > maxSide) {
      pipeline = pipeline.resize({ width: maxSide, height: maxSide, fit: "inside", kernel: "lanczos3" });
    }
    if (!plain) {
      // Matches transformers' convert_to_rgb, which composites RGBA on a white background.
      pipeline = pipeline
        .flatten({ background: { r: 255, g: 255, b: 255 } })
        .toColourspace("srgb")
        .removeAlpha();
    }
    const { data, info } = await pipeline.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoder produced ${info.channels} channels`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
      format,
    };
  } catch (error) {
    throw new ImageInputError(`corrupt or truncated ${format} image: ${reason(error)}`, "corrupt");
  }
}

let decodeThreads: number | undefined;

/** sharp.concurrency is process-wide: set only when it changes (a pipeline takes the value it sees when it starts). */
function setDecodeThreads(threads: number): void {
  if (threads === decodeThreads) return;
  sharp.concurrency(threads);
  decodeThreads = threads;
}

function reason(error: unknown): string {
  // libvips messages can be multi-line; the first line says what went wrong.
  const message = error instanceof Error ? error.message : String(error);
  return (message.split("\n")[0] ?? "").slice(0, 200);
}
