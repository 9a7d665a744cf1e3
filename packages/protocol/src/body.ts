// The request body: content-type gate, lossless JSON parse, pydantic-like field validation, body-hash check, image.
import { z } from "zod";
import { DEFAULT_TIMEOUT_S, EMPTY_BODY_HASH } from "./constants.ts";
import { ProtocolError, ProtocolErrorWithBody } from "./errors.ts";
import { isJsonObject, type JsonObject, JsonSyntaxError, parseJson, toPlain } from "./json-bigint.ts";

/**
 * A validated ImageSynapse body. `fields` is the body as received (key order and number text intact), except that an
 * image decoded from the received bytes (`imageBytes`) appears there as "" (nothing echoes it).
 */
export interface ParsedSynapseBody {
  readonly fields: JsonObject;
  /** base64 JPEG; "" when absent (pydantic default), or when `imageBytes` holds it decoded. */
  readonly image: string;
  /** The image, already decoded and checked, when a large body was read from its bytes (parseSynapseBodyBytes). */
  readonly imageBytes?: Uint8Array;
  /** Seconds, Python default 12 when absent or null. */
  readonly timeout: number;
  readonly testnetLabel: number;
  /** The dendrite TerminalInfo object as received, when present. */
  readonly dendrite?: JsonObject;
  readonly axon?: JsonObject;
}

// pydantic v2 lax mode: ints accept integral floats and integer strings; floats accept numbers and numeric strings.
const INT_STRING = /^\s*[+-]?\d+\s*$/;
const FLOAT_STRING = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const intLike = z.union([z.number().int(), z.bigint(), z.string().regex(INT_STRING)], {
  error: "Input should be a valid integer",
});
const floatLike = z.union([z.number(), z.bigint(), z.string().regex(FLOAT_STRING)], {
  error: "Input should be a valid number",
});
const str = z.string({ error: "Input should be a valid string" });

export const TerminalInfoSchema = z.looseObject({
  status_code: intLike.nullish(),
  status_message: str.nullish(),
  process_time: floatLike.nullish(),
  ip: str.nullish(),
  port: intLike.nullish(),
  version: intLike.nullish(),
  nonce: intLike.nullish(),
  uuid: str.nullish(),
  hotkey: str.nullish(),
  signature: str.nullish(),
});

/**
 * ImageSynapse fields (natix `ImageSynapse` over bittensor `Synapse`). Base fields are Optional in Python and may be
 * null; `dendrite`/`axon` may not (a null there crashes the Python dendrite), nor may the three ImageSynapse fields.
 */
export const ImageSynapseSchema = z.looseObject({
  name: str.nullish(),
  timeout: floatLike.nullish(),
  total_size: intLike.nullish(),
  header_size: intLike.nullish(),
  dendrite: TerminalInfoSchema.optional(),
  axon: TerminalInfoSchema.optional(),
  computed_body_hash: str.nullish(),
  testnet_label: intLike.optional(),
  image: str.optional(),
  prediction: floatLike.optional(),
});

const JSON_MIME = /^application\/(?:json|[^\s/;]+\+json)$/;

/** FastAPI reads the body as JSON only for a missing content-type, application/json or application/*+json. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType.trim() === "") return true;
  const mime = contentType.split(";")[0]!.trim().toLowerCase();
  return JSON_MIME.test(mime);
}

/** Parses the JSON body into a validated, echo-able object (a JSON object whose known fields have valid types). */
export function parseSynapseBody(raw: string, contentType: string | undefined): ParsedSynapseBody {
  if (!isJsonContentType(contentType)) {
    throw new ProtocolError(415, `Unsupported content-type ${contentType!.slice(0, 100)}: send application/json`);
  }
  if (raw.trim() === "") throw new ProtocolError(400, "Request body is empty: expected a JSON object");
  let parsed: ReturnType<typeof parseJson>;
  try {
    parsed = parseJson(raw);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    const body = JSON.stringify({
      detail: [
        { type: "json_invalid", loc: ["body", e.pos], msg: "JSON decode error", input: {}, ctx: { error: e.msg } },
      ],
    });
    throw new ProtocolErrorWithBody(422, `JSON decode error: ${e.msg} at char ${e.pos}`, body);
  }
  if (!isJsonObject(parsed)) throw new ProtocolError(400, "Request body must be a JSON object");
  const plain = validateSynapseFields(parsed);
  const timeout = plain.timeout == null ? DEFAULT_TIMEOUT_S : Number(plain.timeout);
  const dendrite = parsed.get("dendrite");
  const axon = parsed.get("axon");
  return {
    fields: parsed,
    image: plain.image ?? "",
    timeout,
    testnetLabel: plain.testnet_label === undefined ? -1 : Number(plain.testnet_label),
    ...(isJsonObject(dendrite) ? { dendrite } : {}),
    ...(isJsonObject(axon) ? { axon } : {}),
  };
}

/** Validates the known fields of a parsed JSON object; throws ProtocolError(400) naming the first bad field. */
export function validateSynapseFields(obj: JsonObject): z.infer<typeof ImageSynapseSchema> {
  const result = ImageSynapseSchema.safeParse(toPlain(obj));
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.map(String).join(".") || "(body)";
  throw new ProtocolError(400, `Invalid request body: ${path}: ${issue.message}`);
}

/**
 * bittensor `verify_body_integrity`: the header must equal the synapse's body hash, which for ImageSynapse
 * (`required_hash_fields = ()`) is always sha3_256(""). Python answers 500 here by accident; we answer 400.
 */
export function checkBodyHash(headerHash: string | undefined, _body?: ParsedSynapseBody): void {
  if (headerHash !== undefined && headerHash !== EMPTY_BODY_HASH) {
    throw new ProtocolError(
      400,
      `Hash mismatch between header body hash ${headerHash} and parsed body hash ${EMPTY_BODY_HASH}`,
    );
  }
}

/**
 * The image bytes from standard, padded, single-line base64; anything else is a 400. Linear time and no regex: a
 * full-resolution frame is several MiB of base64, where a backtracking pattern blocks the event loop for seconds and
 * overflows the stack (HTTP 500). Node's decoder skips characters outside the alphabet, so a decoded length other than
 * the one the text's length implies exposes every stray character, space, line break or misplaced '='.
 */
export function decodeImageField(body: ParsedSynapseBody): Uint8Array {
  if (body.imageBytes) return body.imageBytes;
  const text = body.image;
  if (text === "") throw new ProtocolError(400, "image is empty");
  const bytes = decodeStrictBase64(text);
  if (bytes === undefined) throw new ProtocolError(400, "image is not valid base64");
  return bytes;
}

/** Base64 characters decoded between two turns of the event loop (a multiple of 4: ~2-4 ms of work on Node 20). */
export const IMAGE_SLICE_CHARS = 512 * 1024;

/**
 * decodeImageField with the same checks and result, decoded slice by slice with the event loop let through between
 * slices: one Buffer.from over an 8 MiB body holds the thread for 40-90 ms on Node 20, which every other validator's
 * request would wait out (docs/axon.md, "Large frames"). Small images are decoded at once.
 */
export async function decodeImageFieldSliced(
  body: ParsedSynapseBody,
  sliceChars: number = IMAGE_SLICE_CHARS,
): Promise<Uint8Array> {
  const text = body.image;
  if (body.imageBytes || text.length <= sliceChars) return decodeImageField(body);
  if (sliceChars % 4 !== 0) throw new RangeError("sliceChars must be a multiple of 4");
  const invalid = () => new ProtocolError(400, "image is not valid base64");
  const n = text.length;
  if (n % 4 !== 0 || text.indexOf("-") !== -1 || text.indexOf("_") !== -1) throw invalid();
  const out = Buffer.allocUnsafe((n / 4) * 3);
  let start = 0;
  let written = 0;
  // Every slice but the last is whole quanta without padding: any stray character or '=' shortens its decode.
  while (n - start > sliceChars) {
    const w = out.write(text.slice(start, start + sliceChars), written, "base64");
    if (w !== (sliceChars / 4) * 3) throw invalid();
    written += w;
    start += sliceChars;
    await yieldToEventLoop();
  }
  const tail = decodeStrictBase64(text.slice(start));
  if (tail === undefined) throw invalid();
  out.set(tail, written);
  return new Uint8Array(out.buffer, out.byteOffset, written + tail.byteLength);
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Standard alphabet value of a char code, or -1. */
function b64Value(code: number): number {
  if (code >= 65 && code <= 90) return code - 65;
  if (code >= 97 && code <= 122) return code - 71;
  if (code >= 48 && code <= 57) return code + 4;
  if (code === 43) return 62;
  if (code === 47) return 63;
  return -1;
}

/** Strict RFC 4648 §4 base64 (padding required, no whitespace, canonical padding bits) in O(n), or undefined. */
export function decodeStrictBase64(text: string): Uint8Array | undefined {
  const n = text.length;
  if (n === 0 || n % 4 !== 0) return undefined;
  const pad = text.charCodeAt(n - 1) !== 61 ? 0 : text.charCodeAt(n - 2) === 61 ? 2 : 1;
  // Node also accepts the URL-safe alphabet; the standard one is what validators send.
  if (text.indexOf("-") !== -1 || text.indexOf("_") !== -1) return undefined;
  const bytes = Buffer.from(text, "base64");
  if (bytes.byteLength !== (n / 4) * 3 - pad) return undefined;
  // The data characters of the last quantum must be in the alphabet, and the bits padding discards must be zero
  // (non-zero ones decode silently into the same bytes as the canonical text).
  for (let i = n - 4; i < n - pad; i++) if (b64Value(text.charCodeAt(i)) < 0) return undefined;
  if (pad === 2 && (b64Value(text.charCodeAt(n - 3)) & 0x0f) !== 0) return undefined;
  if (pad === 1 && (b64Value(text.charCodeAt(n - 2)) & 0x03) !== 0) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
