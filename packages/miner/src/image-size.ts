// What an image costs the pixel budget, from its header alone, before the scorer sees it: the pixels its decode will
// allocate. A JPEG the scorer decodes with shrink-on-load (a native 1920×1080 frame for a 224-pixel model) is charged
// its reduced size; PNG, WebP and everything else their full width × height, so a decompression bomb is refused or
// charged by its header as before.
import { ImageInputError, readImageHeader, type Scorer } from "@roadwork/inference";

export interface ImageSize {
  format: "jpeg" | "png" | "webp";
  width: number;
  height: number;
}

/** Width and height from a JPEG (SOFn), PNG (IHDR) or WebP (VP8, VP8L, VP8X) header; undefined for anything else. */
export function imageSize(b: Uint8Array): ImageSize | undefined {
  const h = readImageHeader(b);
  return h && { format: h.format, width: h.width, height: h.height };
}

/**
 * Pixels to charge for `image`: 400 when its header claims more than `maxPerImage` (whatever the decode would cost:
 * the decoder's own limit is the header's); otherwise what the scorer says its decode allocates, or the full header
 * size when the scorer cannot say. An image whose header we cannot read is charged the whole per-image budget and
 * left to the decoder to accept or refuse.
 */
export function pixelCost(image: Uint8Array, maxPerImage: number, scorer?: Pick<Scorer, "decodedPixels">): number {
  const size = imageSize(image);
  if (!size) return maxPerImage;
  const pixels = size.width * size.height;
  if (pixels > maxPerImage) {
    throw new ImageInputError(
      `image is ${size.width}x${size.height} = ${pixels} pixels, more than the ${maxPerImage} accepted per request`,
      "too_many_pixels",
    );
  }
  return Math.min(pixels, scorer?.decodedPixels?.(image) ?? pixels);
}
