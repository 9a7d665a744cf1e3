// A synapse body read from the bytes as they arrived, without turning a full-resolution frame into one JS string.
// An 8 MiB body built as a string and parsed costs the event loop 50-150 ms on a small host, mostly in single turns
// that every other validator's request waits out: flattening the string (40-50 ms), JSON-parsing it, and touching
// fresh pages for each 8 MB copy. Here a large body is split at its image string: the few hundred bytes around it
// are parsed as JSON text, and the image's base64 is decoded straight from the received chunks, in slices with the
// event loop let through. The result, every error included, is what parseSynapseBody + decodeImageField give.
import { randomUUID } from "node:crypto";
import {
  decodeStrictBase64,
  IMAGE_SLICE_CHARS,
  isJsonContentType,
  type ParsedSynapseBody,
  parseSynapseBody,
} from "./body.ts";

/** Bodies at least this large are split at their image string; smaller ones are parsed as text, as before. */
export const LARGE_BODY_BYTES = 256 * 1024;
/** The image string must start within this many bytes of the body's start, and the body end within this many after
 * it: a validator's body is a few hundred bytes of JSON around the image. Anything else is parsed as text. */
const FRAME_BYTES = 64 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const IMAGE_KEY = Buffer.from('"image"');

/** The received body: its chunks in order, addressed as one byte sequence without copying them together. */
export class BodyBytes {
  readonly length: number;
  readonly #chunks: Buffer[];
  readonly #starts: number[];

  constructor(chunks: readonly Uint8Array[]) {
    this.#chunks = chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    this.#starts = [];
    let at = 0;
    for (const c of this.#chunks) {
      this.#starts.push(at);
      at += c.byteLength;
    }
    this.length = at;
  }

  /** A copy of bytes [start, end). */
  slice(start: number, end: number): Buffer {
    return Buffer.concat([...this.pieces(start, end)]);
  }

  /** The whole body as UTF-8 text (invalid sequences become U+FFFD, a BOM is dropped: TextDecoder's defaults). */
  text(): string {
    return new TextDecoder().decode(this.slice(0, this.length));
  }

  /** Index of the first `byte` in [from, to), or -1. */
  indexOf(byte: number, from: number, to: number = this.length): number {
    for (let i = this.#chunkAt(from); i < this.#chunks.length && this.#starts[i]! < to; i++) {
      const start = this.#starts[i]!;
      const found = this.#chunks[i]!.indexOf(byte, Math.max(0, from - start));
      if (found !== -1) return start + found < to ? start + found : -1;
    }
    return -1;
  }

  /** Views of the chunks covering [start, end), in order (no copies). */
  *pieces(start: number, end: number): Generator<Buffer> {
    for (let i = this.#chunkAt(start); i < this.#chunks.length && this.#starts[i]! < end; i++) {
      const chunk = this.#chunks[i]!;
      const s = this.#starts[i]!;
      const piece = chunk.subarray(Math.max(0, start - s), Math.min(chunk.byteLength, end - s));
      if (piece.byteLength > 0) yield piece;
    }
  }

  #chunkAt(offset: number): number {
    let lo = 0;
    let hi = this.#chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/**
 * parseSynapseBody over received bytes, for the axon. A large body whose image string is plain (no escapes) and
 * valid base64 comes back with the image already decoded (`imageBytes`), its text never built; any other body, and
 * any body where the split finds something unusual, is parsed as text by parseSynapseBody, so the answer (success or
 * error, status and message) is the same either way.
 */
export async function parseSynapseBodyBytes(
  chunks: readonly Uint8Array[],
  contentType: string | undefined,
  sliceChars: number = IMAGE_SLICE_CHARS,
): Promise<ParsedSynapseBody> {
  const bytes = new BodyBytes(chunks);
  if (bytes.length >= LARGE_BODY_BYTES && isJsonContentType(contentType)) {
    const split = await parseAroundImage(bytes, contentType, sliceChars);
    if (split) return split;
  }
  return parseSynapseBody(bytes.text(), contentType);
}

/** Where the first `"image": "` of the body's head opens its string, and where that string's closing quote is. */
function findImageString(bytes: BodyBytes): { open: number; close: number } | undefined {
  const head = bytes.slice(0, Math.min(bytes.length, FRAME_BYTES));
  const key = head.indexOf(IMAGE_KEY);
  if (key === -1) return undefined;
  let i = key + IMAGE_KEY.byteLength;
  const skipSpace = () => {
    while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d)) i++;
  };
  skipSpace();
  if (head[i] !== 0x3a) return undefined; // ':'
  i++;
  skipSpace();
  if (head[i] !== QUOTE) return undefined;
  const open = i;
  const close = bytes.indexOf(QUOTE, open + 1);
  if (close === -1 || bytes.length - close > FRAME_BYTES) return undefined;
  // An escape inside the string would make its value differ from its bytes.
  if (bytes.indexOf(BACKSLASH, open + 1, close) !== -1) return undefined;
  return { open, close };
}

/**
 * The body parsed with its image string replaced by a random placeholder, and the image decoded from the bytes; or
 * undefined when that is not certain to equal parsing the whole text. The placeholder contains '#', which is valid
 * JSON only inside a string: if the rest parses and the top-level `image` is the placeholder, the quote we split at
 * opened a string in the whole text too, every byte outside the image parses as it would there, and the image string
 * (no quote, no backslash, and, being valid base64, no control or non-ASCII character) has exactly its bytes as value.
 */
async function parseAroundImage(
  bytes: BodyBytes,
  contentType: string | undefined,
  sliceChars: number,
): Promise<ParsedSynapseBody | undefined> {
  const at = findImageString(bytes);
  if (!at) return undefined;
  const placeholder = `#image ${randomUUID()}#`;
  const decoder = new TextDecoder();
  const rest =
    decoder.decode(bytes.slice(0, at.open + 1)) + placeholder + decoder.decode(bytes.slice(at.close, bytes.length));
  let body: ParsedSynapseBody;
  try {
    body = parseSynapseBody(rest, contentType);
  } catch {
    return undefined; // the whole text decides which error
  }
  if (body.image !== placeholder) return undefined;
  const image = await decodeBase64Pieces(bytes, at.open + 1, at.close, sliceChars);
  if (!image) return undefined; // not base64: the whole text decides (a control character there is a 422, not a 400)
  body.fields.set("image", "");
  return { ...body, image: "", imageBytes: image };
}

/**
 * Strict base64 (decodeStrictBase64's rules) of bytes [start, end), decoded chunk by chunk into one buffer with the
 * event loop let through about every `sliceChars` characters; undefined when the text is not strict base64.
 */
async function decodeBase64Pieces(
  bytes: BodyBytes,
  start: number,
  end: number,
  sliceChars: number,
): Promise<Uint8Array | undefined> {
  const n = end - start;
  if (n === 0 || n % 4 !== 0) return undefined;
  // The last quantum carries the padding rules; everything before it is whole quanta with none.
  const last = decodeStrictBase64(bytes.slice(end - 4, end).toString("latin1"));
  if (!last) return undefined;
  const bodyChars = n - 4;
  const out = Buffer.allocUnsafe((bodyChars / 4) * 3 + last.byteLength);
  let written = 0;
  let carry = "";
  let sinceYield = 0;
  for (const piece of bytes.pieces(start, end - 4)) {
    // Node's decoder accepts the URL-safe alphabet too; validators send the standard one.
    if (piece.indexOf(0x2d) !== -1 || piece.indexOf(0x5f) !== -1) return undefined;
    const text = carry + piece.toString("latin1");
    const whole = text.length - (text.length % 4);
    carry = text.slice(whole);
    // Node's decoder skips characters outside the alphabet and stops at '=': any of them shortens the output.
    if (out.write(text.slice(0, whole), written, "base64") !== (whole / 4) * 3) return undefined;
    written += (whole / 4) * 3;
    sinceYield += whole;
    if (sinceYield >= sliceChars) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  if (carry !== "") return undefined;
  out.set(last, written);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
