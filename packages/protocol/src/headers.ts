// Request header parsing: bittensor `Synapse.from_headers` casts, with our bounds (docs/protocol.md).
import { DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S } from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import { type CastResult, pyFloat, pyInt } from "./python-casts.ts";

export interface DendriteHeaders {
  hotkey?: string;
  nonce?: bigint;
  /** The nonce header exactly as received: the signed message is rebuilt from it, never from the parsed value. */
  nonceText?: string;
  uuid?: string;
  signature?: string;
  version?: number;
  ip?: string;
}

export interface AxonHeaders {
  hotkey?: string;
  ip?: string;
  port?: number;
}

export interface RequestHeaders {
  name?: string;
  /** Seconds, clamped to [0, 60]; Python's default 12 when absent; NaN becomes 0. */
  timeout: number;
  dendrite: DendriteHeaders;
  axon: AxonHeaders;
  /** The `computed_body_hash` header as received (part of the signed message). */
  computedBodyHash?: string;
  headerSize?: number;
  totalSize?: number;
}

/** Longest value accepted per header; real values are far shorter (ss58 48, uuid 36, signature 130). */
const MAX_LEN: Record<string, number> = {
  name: 64,
  timeout: 64,
  bt_header_dendrite_hotkey: 64,
  bt_header_dendrite_uuid: 64,
  bt_header_dendrite_signature: 300,
  bt_header_dendrite_nonce: 64,
  bt_header_dendrite_version: 32,
  bt_header_dendrite_ip: 64,
  bt_header_axon_hotkey: 64,
  bt_header_axon_ip: 64,
  bt_header_axon_port: 32,
  computed_body_hash: 128,
  header_size: 32,
  total_size: 32,
};

function invalid(name: string, why: string): ProtocolError {
  // Python raises SynapseParsingError here, which surfaces as 500; a malformed header is the caller's fault: 400.
  return new ProtocolError(400, `Invalid header ${name}: ${why}`);
}

/**
 * Reads every header the axon uses. `get` must answer lowercase names case-insensitively (Starlette lowercases
 * incoming names; Node and hono do too). Throws ProtocolError(400) on a cast failure or an absurd length.
 */
export function parseRequestHeaders(get: (lowercaseName: string) => string | undefined): RequestHeaders {
  const text = (name: string): string | undefined => {
    const value = get(name);
    if (value === undefined) return undefined;
    const max = MAX_LEN[name] ?? 256;
    if (value.length > max) throw invalid(name, `longer than ${max} characters`);
    return value;
  };
  const cast = <T>(name: string, fn: (t: string) => CastResult<T>): T | undefined => {
    const value = text(name);
    if (value === undefined) return undefined;
    const r = fn(value);
    if (!r.ok) throw invalid(name, r.why);
    return r.value;
  };
  const smallInt = (name: string, min: number, max: number): number | undefined => {
    const v = cast(name, pyInt);
    if (v === undefined) return undefined;
    if (v < BigInt(min) || v > BigInt(max)) throw invalid(name, `out of range [${min}, ${max}]`);
    return Number(v);
  };

  const timeoutRaw = cast("timeout", pyFloat);
  const nonceText = text("bt_header_dendrite_nonce");
  let nonce: bigint | undefined;
  if (nonceText !== undefined) {
    const r = pyInt(nonceText);
    if (!r.ok) throw invalid("bt_header_dendrite_nonce", r.why);
    nonce = r.value;
  }

  const dendrite: DendriteHeaders = {};
  const setIf = <K extends keyof DendriteHeaders>(k: K, v: DendriteHeaders[K] | undefined) => {
    if (v !== undefined) dendrite[k] = v;
  };
  setIf("hotkey", text("bt_header_dendrite_hotkey"));
  setIf("nonce", nonce);
  setIf("nonceText", nonceText);
  setIf("uuid", text("bt_header_dendrite_uuid"));
  setIf("signature", text("bt_header_dendrite_signature"));
  setIf("version", smallInt("bt_header_dendrite_version", 0, 2 ** 32 - 1));
  setIf("ip", text("bt_header_dendrite_ip"));

  const axon: AxonHeaders = {};
  const axonHotkey = text("bt_header_axon_hotkey");
  const axonIp = text("bt_header_axon_ip");
  const axonPort = smallInt("bt_header_axon_port", 0, 65535);
  if (axonHotkey !== undefined) axon.hotkey = axonHotkey;
  if (axonIp !== undefined) axon.ip = axonIp;
  if (axonPort !== undefined) axon.port = axonPort;

  const result: RequestHeaders = { timeout: clampTimeout(timeoutRaw ?? DEFAULT_TIMEOUT_S), dendrite, axon };
  const name = text("name");
  if (name !== undefined) result.name = name;
  const bodyHash = text("computed_body_hash");
  if (bodyHash !== undefined) result.computedBodyHash = bodyHash;
  const headerSize = smallInt("header_size", 0, Number.MAX_SAFE_INTEGER);
  if (headerSize !== undefined) result.headerSize = headerSize;
  const totalSize = smallInt("total_size", 0, Number.MAX_SAFE_INTEGER);
  if (totalSize !== undefined) result.totalSize = totalSize;
  return result;
}

/** Caller-controlled timeout bounded to a finite [0, 60] s so it can neither disable nor stretch freshness. */
export function clampTimeout(seconds: number): number {
  if (Number.isNaN(seconds)) return 0;
  return Math.min(Math.max(seconds, 0), MAX_TIMEOUT_S);
}
