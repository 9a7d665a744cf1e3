// Untrusted image bytes → RGB pixels. Everything a stranger can send is checked from the header before decoding,
// so a decompression bomb costs a header parse, not gigabytes of memory.
import sharp, { type Metadata } from "sharp";
import { ImageInputError } from "../scorer.ts";

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
/** Formats a validator or client may legitimately send; SVG/PDF/TIFF/HEIF etc. are refused before decoding. */
export const ACCEPTED_FORMATS: ReadonlySet<string> = new Set(["jpeg", "png", "webp"]);

export async function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const minSide = options.minSide ?? DEFAULT_MIN_SIDE;
  if (bytes.length === 0) throw new ImageInputError("image is empty", "not_image");

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
  const { width, height } = meta;
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

  const maxSide = options.maxSide ?? DEFAULT_MAX_SIDE;
  try {
    let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: "error", autoOrient: true });
    if (Math.max(width, height) > maxSide) {
      pipeline = pipeline.resize({ width: maxSide, height: maxSide, fit: "inside", kernel: "lanczos3" });
    }
    const { data, info } = await pipeline
      // Matches transformers' convert_to_rgb, which composites RGBA on a white background.
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace("srgb")
      .removeAlpha()
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
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

function reason(error: unknown): string {
  // libvips messages can be multi-line; the first line says what went wrong.
  const message = error instanceof Error ? error.message : String(error);
  return (message.split("\n")[0] ?? "").slice(0, 200);
}
