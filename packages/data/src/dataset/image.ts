// What a dataset needs to know about image bytes before it takes them: their content address, format, size and
// perceptual hash. Decoding the whole image here is deliberate: a corrupt or truncated file fails now, with a reason,
// instead of in the middle of a training run.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import sharp, { type Metadata, type SharpOptions } from "sharp";
import type { MediaType, NewImageRecord, SourceDetails } from "./record.ts";

// sharp-phash is CommonJS exporting a bare function, which its typings describe as a default export.
const phash = createRequire(import.meta.url)("sharp-phash") as (
  image: Buffer,
  options?: SharpOptions,
) => Promise<string>;

export interface ImageFacts {
  sha256: string;
  mediaType: MediaType;
  width: number;
  height: number;
  byteLength: number;
  phash: string;
}

export const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** Recognises the formats a validator or a dataset sends, by magic bytes (extensions lie). */
export function sniffMediaType(bytes: Uint8Array): MediaType | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
  if (bytes.length >= 8 && Buffer.from(bytes.subarray(0, 8)).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]))) {
    return "image/png";
  }
  if (
    bytes.length >= 12 &&
    Buffer.from(bytes.subarray(0, 4)).toString("latin1") === "RIFF" &&
    Buffer.from(bytes.subarray(8, 12)).toString("latin1") === "WEBP"
  ) {
    return "image/webp";
  }
  return undefined;
}

/** Throws an Error saying what is wrong when the bytes are not a whole JPEG, PNG or WebP image. */
export async function describeImage(bytes: Uint8Array): Promise<ImageFacts> {
  if (bytes.byteLength === 0) throw new Error("empty image");
  const mediaType = sniffMediaType(bytes);
  if (!mediaType) throw new Error("not a JPEG, PNG or WebP image (unrecognised leading bytes)");
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let meta: Metadata;
  let bits: string;
  try {
    meta = await sharp(buf, { failOn: "truncated" }).metadata();
    // Hashing decodes every pixel; failOn "truncated" turns a cut-off file into an error rather than grey pixels.
    bits = await phash(buf, { failOn: "truncated" });
  } catch (error) {
    throw new Error(`cannot decode ${mediaType}: ${(error as Error).message}`);
  }
  if (!meta.width || !meta.height) throw new Error(`${mediaType} without dimensions`);
  let hex = "";
  for (let i = 0; i < 64; i += 4) hex += Number.parseInt(bits.slice(i, i + 4), 2).toString(16);
  return {
    sha256: sha256Hex(bytes),
    mediaType,
    width: meta.width,
    height: meta.height,
    byteLength: bytes.byteLength,
    phash: hex,
  };
}

/** A new dataset record for described bytes. */
export function newRecord(
  facts: ImageFacts,
  init: Pick<NewImageRecord, "source"> &
    Partial<Pick<NewImageRecord, "label" | "labelSource" | "labelConfidence">> & { details?: SourceDetails },
): NewImageRecord {
  const label = init.label ?? null;
  if (label !== null && !init.labelSource) throw new Error("a label needs its labelSource");
  return {
    ...facts,
    source: init.source,
    details: init.details ?? {},
    label,
    labelSource: label === null ? null : init.labelSource!,
    labelConfidence: label === null ? null : (init.labelConfidence ?? 1),
  };
}
