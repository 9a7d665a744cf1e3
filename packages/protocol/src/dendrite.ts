// A TypeScript dendrite: builds requests byte-for-byte as bittensor's `Dendrite.call` does and reads answers the
// way the Python dendrite does (bittensor `process_server_response`), so its `prediction` is what a validator scores.
import { randomBytes } from "node:crypto";
import { isIPv6 } from "node:net";
import { ImageSynapseSchema } from "./body.ts";
import { AXON_VERSION, EMPTY_BODY_HASH, SYNAPSE_NAME, TERMINAL_FIELDS } from "./constants.ts";
import {
  isJsonObject,
  JsonNumber,
  type JsonObject,
  JsonSyntaxError,
  type JsonValue,
  parseJson,
  stringifyPython,
  toPlain,
} from "./json-bigint.ts";
import { formatPyFloat, pyFloat, pyInt } from "./python-casts.ts";

export interface DendriteSigner {
  address: string;
  sign(message: Uint8Array): Uint8Array;
}

export interface DendriteOptions {
  signer: DendriteSigner;
  /** Fixed for the dendrite's lifetime like Python's `uuid.uuid1()`; generated when absent. */
  uuid?: string;
  version?: number;
  /** Sent as bt_header_dendrite_ip; the axon overwrites it with the TCP peer anyway. */
  externalIp?: string;
  fetch?: typeof fetch;
}

export interface AxonTarget {
  ip: string;
  port: number;
  hotkey: string;
}

/** Plain values accepted in `extraBody`; numbers become Python-style ints or floats. */
export type BodyValue = null | boolean | string | number | bigint | BodyValue[] | { [key: string]: BodyValue };

export interface BuildRequestInput {
  axon: AxonTarget;
  /** JPEG bytes, or their standard base64. */
  image: Uint8Array | string;
  /** Seconds (validators use 9). */
  timeout?: number;
  /** Fields set on the body after the defaults (replacing in place, or appended). */
  extraBody?: Record<string, BodyValue>;
  /** Fixed nonce (tests); otherwise strictly increasing wall-clock ns. */
  nonceNs?: bigint;
  /** CPython getsizeof artefacts, sent only for realism; defaults are byte counts. */
  headerSize?: number;
  totalSize?: number;
}

export interface DendriteRequest {
  url: string;
  /** Python's header order; every value a string. */
  headers: Record<string, string>;
  /** Exactly `json.dumps(synapse.model_dump())`. */
  body: string;
  nonceNs: bigint;
  signedMessage: string;
  timeout: number;
  axon: AxonTarget;
}

export interface DendriteResult {
  /** Python's final `dendrite.status_code`: the axon status after header merge, or the local error code. */
  status: number;
  /** What the validator reads: -1 unless a 200 body parsed (bittensor copies it before merging headers). */
  prediction: number;
  statusMessage: string | null;
  roundTripMs: number;
  /** Raw response body ("" when none arrived). */
  body: string;
  headers: Record<string, string>;
}

/** Python `str(uuid.uuid1())`: time-based, random clock sequence and multicast node id. */
export function uuid1(nowMs = Date.now()): string {
  const t = BigInt(nowMs) * 10_000n + 0x01b21dd213814000n + BigInt(randomBytes(2).readUInt16BE() % 10_000);
  const rnd = randomBytes(8);
  const hex = (v: bigint, n: number) => v.toString(16).padStart(n, "0");
  const timeLow = t & 0xffffffffn;
  const timeMid = (t >> 32n) & 0xffffn;
  const timeHi = ((t >> 48n) & 0x0fffn) | 0x1000n;
  const clockSeq = (BigInt(rnd.readUInt16BE(0)) & 0x3fffn) | 0x8000n;
  const node = (BigInt(`0x${rnd.subarray(2).toString("hex")}`) & 0xffffffffffffn) | 0x010000000000n;
  return `${hex(timeLow, 8)}-${hex(timeMid, 4)}-${hex(timeHi, 4)}-${hex(clockSeq, 4)}-${hex(node, 12)}`;
}

function toJsonValue(v: BodyValue): JsonValue {
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new RangeError("body numbers must be finite");
    return new JsonNumber(Number.isInteger(v) ? String(v) : formatPyFloat(v));
  }
  if (typeof v === "bigint") return new JsonNumber(v.toString());
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v !== null && typeof v === "object") return new Map(Object.entries(v).map(([k, x]) => [k, toJsonValue(x)]));
  return v;
}

const num = (t: string) => new JsonNumber(t);

export class Dendrite {
  readonly uuid: string;
  readonly version: number;
  readonly externalIp: string;
  readonly #signer: DendriteSigner;
  readonly #fetch: typeof fetch;
  #lastNonce = 0n;

  constructor(options: DendriteOptions) {
    this.#signer = options.signer;
    this.uuid = options.uuid ?? uuid1();
    this.version = options.version ?? AXON_VERSION;
    this.externalIp = options.externalIp ?? "127.0.0.1";
    this.#fetch = options.fetch ?? fetch;
  }

  get hotkey(): string {
    return this.#signer.address;
  }

  /** `max(now_ns, last + 1)`: strictly increasing even within one millisecond. */
  nextNonce(): bigint {
    const now = BigInt(Date.now()) * 1_000_000n;
    this.#lastNonce = now > this.#lastNonce ? now : this.#lastNonce + 1n;
    return this.#lastNonce;
  }

  buildRequest(input: BuildRequestInput): DendriteRequest {
    const { axon } = input;
    const timeout = input.timeout ?? 9;
    if (!(timeout > 0) || !Number.isFinite(timeout)) throw new RangeError("timeout must be a positive number");
    let nonce: bigint;
    if (input.nonceNs !== undefined) {
      nonce = input.nonceNs;
      if (nonce > this.#lastNonce) this.#lastNonce = nonce;
    } else {
      nonce = this.nextNonce();
    }
    const image = typeof input.image === "string" ? input.image : Buffer.from(input.image).toString("base64");
    const hotkey = this.#signer.address;
    const signedMessage = `${nonce}.${hotkey}.${axon.hotkey}.${this.uuid}.${EMPTY_BODY_HASH}`;
    const signature = `0x${Buffer.from(this.#signer.sign(new TextEncoder().encode(signedMessage))).toString("hex")}`;
    const timeoutText = formatPyFloat(timeout);

    const headers: Record<string, string> = {
      name: SYNAPSE_NAME,
      timeout: timeoutText,
      bt_header_axon_ip: axon.ip,
      bt_header_axon_port: String(axon.port),
      bt_header_axon_hotkey: axon.hotkey,
      bt_header_dendrite_ip: this.externalIp,
      bt_header_dendrite_version: String(this.version),
      bt_header_dendrite_nonce: nonce.toString(),
      bt_header_dendrite_uuid: this.uuid,
      bt_header_dendrite_hotkey: hotkey,
      bt_header_dendrite_signature: signature,
    };
    let headerBytes = 0;
    for (const [k, v] of Object.entries(headers)) headerBytes += k.length + v.length;

    const terminal = (values: Partial<Record<string, JsonValue>>): JsonObject =>
      new Map(TERMINAL_FIELDS.map((f) => [f, values[f] ?? null] as [string, JsonValue]));
    const body: JsonObject = new Map<string, JsonValue>([
      ["name", SYNAPSE_NAME],
      ["timeout", num(timeoutText)],
      ["total_size", num("0")],
      ["header_size", num("0")],
      [
        "dendrite",
        terminal({
          ip: this.externalIp,
          version: num(String(this.version)),
          nonce: num(nonce.toString()),
          uuid: this.uuid,
          hotkey,
          signature,
        }),
      ],
      ["axon", terminal({ ip: axon.ip, port: num(String(axon.port)), hotkey: axon.hotkey })],
      ["computed_body_hash", ""],
      ["testnet_label", num("-1")],
      ["image", image],
      ["prediction", num("-1.0")],
    ]);
    for (const [k, v] of Object.entries(input.extraBody ?? {})) body.set(k, toJsonValue(v));

    // total_size appears in both the header and the body (to_headers runs before model_dump in Python).
    let totalSize = input.totalSize;
    if (totalSize === undefined) {
      totalSize = 0;
      for (let i = 0; i < 3; i++) {
        body.set("total_size", num(String(totalSize)));
        totalSize = Buffer.byteLength(stringifyPython(body));
      }
    }
    body.set("total_size", num(String(totalSize)));
    headers.header_size = String(input.headerSize ?? headerBytes);
    headers.total_size = String(totalSize);
    headers.computed_body_hash = EMPTY_BODY_HASH;
    headers["content-type"] = "application/json";

    const host = isIPv6(axon.ip) ? `[${axon.ip}]` : axon.ip;
    return {
      url: `http://${host}:${axon.port}/${SYNAPSE_NAME}`,
      headers,
      body: stringifyPython(body),
      nonceNs: nonce,
      signedMessage,
      timeout,
      axon,
    };
  }

  /** POSTs a built request within its timeout and reads the answer like the Python dendrite. Never throws. */
  async query(req: DendriteRequest): Promise<DendriteResult> {
    const started = performance.now();
    let status: number;
    let headers: Record<string, string>;
    let text: string;
    try {
      const response = await this.#fetch(req.url, {
        method: "POST",
        headers: req.headers,
        body: req.body,
        signal: AbortSignal.timeout(Math.ceil(req.timeout * 1000)),
      });
      status = response.status;
      headers = Object.fromEntries(response.headers);
      text = await response.text();
    } catch (e) {
      const { status: code, message } = transportFailure(e, req);
      return {
        status: code,
        prediction: -1,
        statusMessage: message,
        roundTripMs: performance.now() - started,
        body: "",
        headers: {},
      };
    }
    const read = readSynapseResponse(status, headers, text);
    return { ...read, roundTripMs: performance.now() - started, body: text, headers };
  }

  /** buildRequest + query. */
  call(input: BuildRequestInput): Promise<DendriteResult> {
    return this.query(this.buildRequest(input));
  }
}

/** bittensor `DENDRITE_ERROR_MAPPING` for failures before a response was read. */
function transportFailure(e: unknown, req: DendriteRequest): { status: number; message: string } {
  const err = e as { name?: string; message?: string; cause?: { code?: string; name?: string } };
  if (err?.name === "TimeoutError" || err?.name === "AbortError" || err?.cause?.name === "TimeoutError") {
    return { status: 408, message: `Request timeout after ${formatPyFloat(req.timeout)} seconds` };
  }
  const code = err?.cause?.code ?? "";
  if (["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "EADDRNOTAVAIL"].includes(code)) {
    return { status: 503, message: `Service unavailable at ${req.axon.ip}:${req.axon.port}/${SYNAPSE_NAME}` };
  }
  if (["ECONNRESET", "UND_ERR_SOCKET", "EPIPE"].includes(code)) {
    return { status: 503, message: `Service unavailable: server disconnected (${code})` };
  }
  return { status: 500, message: `Client error: ${err?.cause?.code ?? err?.message ?? String(e)}` };
}

/** aiohttp `ClientResponse.json()` accepts application/json or any type/subtype+json (parameters ignored). */
const AIOHTTP_JSON = /^(?:application\/|[\w.-]+\/[\w.+-]+?\+)json$/i;

class ResponseParseError extends Error {}

/**
 * bittensor `process_server_response` over an already-read response. A 200 copies the validated body (prediction
 * included) first, then bt_header_* values override; a failure after the copy keeps the copied prediction, exactly
 * as the Python dendrite does, and reports 422.
 */
export function readSynapseResponse(
  httpStatus: number,
  headers: Record<string, string>,
  text: string,
): { status: number; prediction: number; statusMessage: string | null } {
  let prediction = -1;
  try {
    const header = (name: string) => {
      for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
      return undefined;
    };
    const mime = (header("content-type") ?? "application/octet-stream").split(";")[0]!.trim();
    if (!AIOHTTP_JSON.test(mime)) {
      throw new ResponseParseError(`Attempt to decode JSON with unexpected mimetype: ${mime}`);
    }
    const trimmed = text.trim();
    let json: JsonValue | undefined;
    if (trimmed !== "") {
      try {
        json = parseJson(trimmed);
      } catch (e) {
        if (e instanceof JsonSyntaxError) throw new ResponseParseError(e.message);
        throw e;
      }
    }
    let status: number | null = null;
    let statusMessage: string | null = null;
    if (httpStatus === 200) {
      if (!isJsonObject(json)) throw new ResponseParseError("response body is not a JSON object");
      const parsed = ImageSynapseSchema.safeParse(toPlain(json));
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new ResponseParseError(`${issue.path.join(".")}: ${issue.message}`);
      }
      prediction = parsed.data.prediction === undefined ? -1 : Number(parsed.data.prediction);
      const axon = parsed.data.axon;
      if (axon?.status_code != null) status = Number(axon.status_code);
      if (axon?.status_message != null) statusMessage = axon.status_message;
    } else {
      if (!isJsonObject(json)) throw new ResponseParseError("error body is not a JSON object");
      const message = json.get("message");
      if (message !== undefined && message !== null && typeof message !== "string") {
        throw new ResponseParseError("message: Input should be a valid string");
      }
      status = httpStatus;
      statusMessage = message ?? null;
    }
    // Synapse.from_headers: cast failures raise, which Python reports as 422 (prediction already copied).
    const statusHeader = header("bt_header_axon_status_code");
    if (statusHeader !== undefined) {
      const r = pyInt(statusHeader);
      if (!r.ok) throw new ResponseParseError(`bt_header_axon_status_code: ${r.why}`);
      status = Number(r.value);
    }
    for (const name of [
      "bt_header_axon_port",
      "bt_header_axon_version",
      "bt_header_axon_nonce",
      "header_size",
      "total_size",
    ]) {
      const v = header(name);
      if (v !== undefined && !pyInt(v).ok) throw new ResponseParseError(`${name}: not an integer`);
    }
    for (const name of ["bt_header_axon_process_time", "timeout"]) {
      const v = header(name);
      if (v !== undefined && !pyFloat(v).ok) throw new ResponseParseError(`${name}: not a number`);
    }
    const messageHeader = header("bt_header_axon_status_message");
    if (messageHeader !== undefined) statusMessage = messageHeader;
    return { status: status ?? httpStatus, prediction, statusMessage };
  } catch (e) {
    if (!(e instanceof ResponseParseError)) throw e;
    return { status: 422, prediction, statusMessage: `Failed to parse response: ${e.message}` };
  }
}
