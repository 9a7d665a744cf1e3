// Protocol constants shared by the axon and the dendrite (see docs/protocol.md).
import { createHash } from "node:crypto";

/** The only synapse a StreetVision miner serves; also the URL path (`POST /ImageSynapse`). */
export const SYNAPSE_NAME = "ImageSynapse";
/** Routes a Python axon attaches, in its order: the ping route and ImageSynapse. Used in the 404 message. */
export const AVAILABLE_SYNAPSES = ["Synapse", "ImageSynapse"] as const;

/** bittensor `get_hash`: SHA3-256 (FIPS 202), NOT Keccak-256. */
export function sha3Hex(text: string): string {
  return createHash("sha3-256").update(text, "utf8").digest("hex");
}

/** ImageSynapse hashes no field (`required_hash_fields = ()`), so its body hash is always sha3_256(""). */
export const EMPTY_BODY_HASH = sha3Hex("");

/** bittensor `version_as_int`: major·1e6 + minor·1e3 + patch. */
export function versionAsInt(major: number, minor: number, patch: number): number {
  for (const part of [major, minor, patch]) {
    if (!Number.isInteger(part) || part < 0 || part > 999) throw new RangeError(`version part out of range: ${part}`);
  }
  return major * 1_000_000 + minor * 1_000 + patch;
}

/**
 * The version our axon and dendrite announce. It names the Python SDK release whose wire behaviour we reproduce
 * (bittensor 9.12.2, pinned by natix); ≥ 7.2.0 makes Python axons apply the nonce freshness window to our requests.
 */
export const AXON_VERSION = versionAsInt(9, 12, 2);

/** bittensor `ALLOWED_DELTA`: the base freshness window for a first-seen nonce. */
export const ALLOWED_DELTA_NS = 4_000_000_000n;
/** Python `Synapse.timeout` default, used when the request carries no timeout header. */
export const DEFAULT_TIMEOUT_S = 12;
/** Upper clamp for the caller-controlled timeout (Python accepts inf/nan, which disables freshness). */
export const MAX_TIMEOUT_S = 60;

/** `TerminalInfo` field order: header order and JSON key order both follow it. */
export const TERMINAL_FIELDS = [
  "status_code",
  "status_message",
  "process_time",
  "ip",
  "port",
  "version",
  "nonce",
  "uuid",
  "hotkey",
  "signature",
] as const;
export type TerminalField = (typeof TERMINAL_FIELDS)[number];
export const TERMINAL_INT_FIELDS: ReadonlySet<string> = new Set(["status_code", "port", "version", "nonce"]);
export const TERMINAL_FLOAT_FIELDS: ReadonlySet<string> = new Set(["process_time"]);
