// Axon responses, byte-compatible with what a Python axon returns and what a Python dendrite can read.
import type { ParsedSynapseBody } from "./body.ts";
import {
  AXON_VERSION,
  DEFAULT_TIMEOUT_S,
  EMPTY_BODY_HASH,
  SYNAPSE_NAME,
  TERMINAL_FIELDS,
  TERMINAL_FLOAT_FIELDS,
  TERMINAL_INT_FIELDS,
} from "./constants.ts";
import { type ProtocolError, ProtocolErrorWithBody } from "./errors.ts";
import type { RequestHeaders } from "./headers.ts";
import { JsonNumber, type JsonObject, type JsonValue, stringifyCompact } from "./json-bigint.ts";
import { formatPyFloat, pyFloat, pyInt } from "./python-casts.ts";

export interface AxonResponse {
  status: number;
  /** Lowercase names (the Python dendrite matches bt_header_* case-sensitively); every value sanitized. */
  headers: Record<string, string>;
  body: string;
}

export interface SuccessInput {
  body: ParsedSynapseBody;
  /** The answer; must be finite (JSON has no NaN and the validator would read a null as a failure). */
  prediction: number;
  processTimeS: number;
  /** Our own identity; ip/port default to what the dendrite put in the body's axon object. */
  axon: { hotkey: string; ip?: string; port?: number };
}

export interface ErrorContext {
  /** Parsed request headers, when parsing got that far (echoed as Python does). */
  request?: RequestHeaders;
  /** TCP peer: overwrites the dendrite ip/port the caller claimed. */
  peer?: { ip: string; port: number };
  axonHotkey?: string;
  processTimeS?: number;
}

const MAX_HEADER_VALUE = 1024;

/** Keeps a header value to printable Latin-1 (Node throws on CR/LF and non-Latin-1) and bounded length. */
export function sanitizeHeaderValue(value: string, maxLength = MAX_HEADER_VALUE): string {
  const clean = value.replace(/[^\x20-\x7e\xa0-\xff]/g, "?").trim();
  return clean.length > maxLength ? clean.slice(0, maxLength) : clean;
}

function processTimeText(seconds: number): string {
  return formatPyFloat(Number.isFinite(seconds) && seconds > 0 ? seconds : 0);
}

/** Python `str(v)` of a validated TerminalInfo value, normalized the way pydantic would have cast it. */
function terminalValueText(field: string, v: JsonValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  const text = v instanceof JsonNumber ? v.text : typeof v === "string" ? v : undefined;
  if (text === undefined) return undefined;
  if (TERMINAL_INT_FIELDS.has(field)) {
    if (v instanceof JsonNumber && !v.isIntegerText) {
      const n = v.toNumber();
      return Number.isInteger(n) ? BigInt(n).toString() : undefined;
    }
    const r = pyInt(text);
    return r.ok ? r.value.toString() : undefined;
  }
  if (TERMINAL_FLOAT_FIELDS.has(field)) {
    const r = pyFloat(text);
    return r.ok && Number.isFinite(r.value) ? formatPyFloat(r.value) : undefined;
  }
  return typeof v === "string" ? v : undefined;
}

function finishHeaders(headers: Record<string, string>, bodyBytes: number): Record<string, string> {
  // header_size / total_size are CPython sys.getsizeof artefacts that nobody reads; send honest byte counts.
  let size = 0;
  for (const [k, v] of Object.entries(headers)) size += k.length + v.length;
  headers.header_size = String(size);
  headers.total_size = String(bodyBytes);
  headers.computed_body_hash = EMPTY_BODY_HASH;
  headers["content-type"] = "application/json";
  for (const k of Object.keys(headers)) headers[k] = sanitizeHeaderValue(headers[k]!);
  return headers;
}

const num = (text: string) => new JsonNumber(text);

/**
 * 200 with the request body echoed (unknown fields and big integers exact) plus our prediction and axon status.
 * `image` is sent back as "": echoing it wastes ~20 KB per answer, the field defaults to "" and no validator reads it.
 */
export function successResponse(input: SuccessInput): AxonResponse & { status: 200 } {
  const { body, prediction } = input;
  if (!Number.isFinite(prediction)) throw new RangeError(`prediction must be finite, got ${prediction}`);
  const fields = body.fields;
  const requestAxon = body.axon;
  const processTime = processTimeText(input.processTimeS);
  const ip = input.axon.ip ?? (requestAxon?.get("ip") as JsonValue | undefined) ?? null;
  const portValue =
    input.axon.port !== undefined ? num(String(input.axon.port)) : ((requestAxon?.get("port") as JsonValue) ?? null);
  const axon: JsonObject = new Map<string, JsonValue>([
    ["status_code", num("200")],
    ["status_message", "Success"],
    ["process_time", num(processTime)],
    ["ip", typeof ip === "string" ? ip : null],
    ["port", portValue instanceof JsonNumber || typeof portValue === "string" ? portValue : null],
    ["version", null],
    ["nonce", null],
    ["uuid", null],
    ["hotkey", input.axon.hotkey],
    ["signature", null],
  ]);
  const dendrite: JsonObject =
    body.dendrite ?? new Map<string, JsonValue>(TERMINAL_FIELDS.map((f) => [f, null] as [string, JsonValue]));
  const out: JsonObject = new Map<string, JsonValue>([
    ["name", SYNAPSE_NAME],
    ["timeout", fields.has("timeout") ? fields.get("timeout")! : num(formatPyFloat(DEFAULT_TIMEOUT_S))],
    ["total_size", fields.get("total_size") ?? num("0")],
    ["header_size", fields.get("header_size") ?? num("0")],
    ["dendrite", dendrite],
    ["axon", axon],
    ["computed_body_hash", fields.get("computed_body_hash") ?? ""],
    ["testnet_label", fields.get("testnet_label") ?? num("-1")],
    ["image", ""],
    ["prediction", num(formatPyFloat(prediction))],
  ]);
  for (const [k, v] of fields) if (!out.has(k)) out.set(k, v);
  const text = stringifyCompact(out);

  const headers: Record<string, string> = {
    name: SYNAPSE_NAME,
    timeout: formatPyFloat(body.timeout),
    bt_header_axon_status_code: "200",
    bt_header_axon_status_message: "Success",
    bt_header_axon_process_time: processTime,
  };
  for (const f of ["ip", "port", "hotkey"] as const) {
    const t = terminalValueText(f, axon.get(f));
    if (t !== undefined) headers[`bt_header_axon_${f}`] = t;
  }
  for (const f of TERMINAL_FIELDS) {
    const t = terminalValueText(f, dendrite.get(f));
    if (t !== undefined) headers[`bt_header_dendrite_${f}`] = t;
  }
  return { status: 200, headers: finishHeaders(headers, Buffer.byteLength(text)), body: text };
}

/** An error answer as bittensor's `create_error_response` builds it: `{"message": …}` plus the synapse headers. */
export function errorResponse(status: number, message: string, ctx: ErrorContext = {}): AxonResponse {
  const req = ctx.request;
  const statusMessage = sanitizeHeaderValue(message);
  const headers: Record<string, string> = {
    // Without parsed headers Python answers from a bare Synapse(): name "Synapse", timeout 12.0.
    name: req ? SYNAPSE_NAME : "Synapse",
    timeout: formatPyFloat(req ? req.timeout : DEFAULT_TIMEOUT_S),
    bt_header_axon_status_code: String(status),
    bt_header_axon_status_message: statusMessage,
    bt_header_axon_process_time: processTimeText(ctx.processTimeS ?? 0),
  };
  if (req) {
    const axonHotkey = ctx.axonHotkey ?? req.axon.hotkey;
    if (req.axon.ip !== undefined) headers.bt_header_axon_ip = req.axon.ip;
    if (req.axon.port !== undefined) headers.bt_header_axon_port = String(req.axon.port);
    headers.bt_header_axon_version = String(AXON_VERSION);
    if (axonHotkey !== undefined) headers.bt_header_axon_hotkey = axonHotkey;
    const d = req.dendrite;
    const ip = ctx.peer?.ip ?? d.ip;
    if (ip !== undefined) headers.bt_header_dendrite_ip = ip;
    if (ctx.peer) headers.bt_header_dendrite_port = String(ctx.peer.port);
    if (d.version !== undefined) headers.bt_header_dendrite_version = String(d.version);
    if (d.nonce !== undefined) headers.bt_header_dendrite_nonce = d.nonce.toString();
    if (d.uuid !== undefined) headers.bt_header_dendrite_uuid = d.uuid;
    if (d.hotkey !== undefined) headers.bt_header_dendrite_hotkey = d.hotkey;
    if (d.signature !== undefined) headers.bt_header_dendrite_signature = d.signature;
  }
  const text = JSON.stringify({ message: message.length > 4096 ? message.slice(0, 4096) : message });
  return { status, headers: finishHeaders(headers, Buffer.byteLength(text)), body: text };
}

/** The response for any ProtocolError: FastAPI's bare 422 for undecodable JSON, the bittensor error form otherwise. */
export function protocolErrorResponse(err: ProtocolError, ctx: ErrorContext = {}): AxonResponse {
  if (err instanceof ProtocolErrorWithBody) {
    return { status: err.status, headers: { "content-type": err.contentType }, body: err.body };
  }
  return errorResponse(err.status, err.message, ctx);
}
