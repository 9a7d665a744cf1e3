// Reads a subnet's metagraph the way the Python SDK's lite sync does: SubnetInfoRuntimeApi_get_subnet_state for
// hotkeys / permits / total stake and NeuronInfoRuntimeApi_get_neurons_lite for axons and per-uid scalars, both via
// state_call, decoded with the registry types in runtime-types.ts. Anything the node sends that does
// not decode exactly is a ChainDataError, never a crash or a half-filled snapshot.
import type { ApiPromise } from "@polkadot/api";
import type { Bytes, Option, Struct, Vec } from "@polkadot/types";
import type { Codec } from "@polkadot/types/types";
import { u8aEq, u8aToHex } from "@polkadot/util";
import { decodeAddress, encodeAddress } from "@polkadot/util-crypto";
import { ipToString } from "./ip.ts";
import { MetagraphSnapshot, type MetagraphSnapshotData, type SnapshotNeuron } from "./metagraph-snapshot.ts";
import { RUNTIME_API_RESULTS, type RuntimeApiMethod } from "./runtime-types.ts";
import { DEFAULT_CALL_TIMEOUT_MS, withTimeout } from "./timeout.ts";

export const SS58_PREFIX = 42;
const RAO_PER_TAO = 1e9;
const U16_MAX = 65535;

export class ChainDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ChainDataError";
  }
}

export interface ReadOptions {
  /** Per-request timeout (default 20 s). */
  timeoutMs?: number;
}

/** An axon record as stored in `SubtensorModule.Axons` (and inside NeuronInfoLite). */
export interface AxonInfo {
  block: number;
  version: number;
  ip: bigint;
  /** `ip` as the SDK prints it (magnitude decides v4/v6); "0.0.0.0" = not serving. */
  ipText: string;
  port: number;
  ipType: number;
  protocol: number;
  placeholder1: number;
  placeholder2: number;
}

export interface Hyperparameters {
  servingRateLimit: number;
  immunityPeriod: number;
  tempo: number;
}

/** Normalises any accepted address form to the prefix-42 string the metagraph uses. */
export function normaliseHotkey(address: string): string {
  try {
    return encodeAddress(decodeAddress(address), SS58_PREFIX);
  } catch (error) {
    throw new Error(`'${address}' is not a valid SS58 address: ${(error as Error).message}`);
  }
}

/** Decodes a runtime-API result; the bytes must decode completely and re-encode to themselves. */
export function decodeRuntimeApiResult(api: Pick<ApiPromise, "registry">, method: RuntimeApiMethod, bytes: Uint8Array) {
  const type = RUNTIME_API_RESULTS[method];
  let decoded: Codec;
  try {
    decoded = api.registry.createType(type as "Raw", bytes);
  } catch (error) {
    throw new ChainDataError(
      `${method} returned ${bytes.length} bytes that do not decode as ${type}: ${(error as Error).message}`,
    );
  }
  if (decoded.encodedLength !== bytes.length || !u8aEq(decoded.toU8a(), bytes)) {
    throw new ChainDataError(
      `${method} returned ${bytes.length} bytes that are not a complete ${type} (decoded ${decoded.encodedLength}); ` +
        "the node's runtime may not match this miner's types",
    );
  }
  return decoded;
}

// No `at` block hash: the provider caches by-hash calls, including failed and timed-out ones, and would replay them.
async function callRuntimeApi(api: ApiPromise, method: RuntimeApiMethod, netuid: number, timeoutMs: number) {
  const args = u8aToHex(api.registry.createType("u16", netuid).toU8a());
  let raw: Bytes;
  try {
    raw = await withTimeout(api.rpc.state.call(method, args), timeoutMs, `state_call ${method}`);
  } catch (error) {
    if (error instanceof Error && error.name === "ChainTimeoutError") throw error;
    throw new ChainDataError(`state_call ${method} failed: ${(error as Error).message}`);
  }
  return decodeRuntimeApiResult(api, method, raw.toU8a(true));
}

const big = (codec: Codec | undefined): bigint => (codec as unknown as { toBigInt(): bigint }).toBigInt();
const num = (codec: Codec | undefined): number => Number(big(codec));
const bool = (codec: Codec | undefined): boolean => (codec as unknown as { isTrue: boolean }).isTrue === true;

function field<T extends Codec = Codec>(struct: Codec, name: string): T {
  const value = (struct as Struct).get(name);
  if (value === undefined) throw new ChainDataError(`decoded value has no field ${name}`);
  return value as T;
}

/** From our BtAxonInfo (snake_case) or the metadata's AxonInfo (camelCase in polkadot-js). */
export function axonFromCodec(codec: Codec): AxonInfo {
  const ip = big(field(codec, "ip"));
  const ipType = (codec as Struct).get("ip_type") ?? field(codec, "ipType");
  return {
    block: num(field(codec, "block")),
    version: num(field(codec, "version")),
    ip,
    ipText: ipToString(ip),
    port: num(field(codec, "port")),
    ipType: num(ipType),
    protocol: num(field(codec, "protocol")),
    placeholder1: num(field(codec, "placeholder1")),
    placeholder2: num(field(codec, "placeholder2")),
  };
}

function snapshotAxon(axon: AxonInfo): SnapshotNeuron["axon"] {
  if (axon.ip === 0n) return undefined; // never served
  const ipType = axon.ipType === 4 || axon.ipType === 6 ? axon.ipType : axon.ip < 1n << 32n ? 4 : 6;
  return {
    ip: axon.ipText,
    port: axon.port,
    ipType,
    protocol: axon.protocol,
    version: axon.version,
    block: axon.block,
  };
}

/** Current best block number and hash. */
export async function readHead(api: ApiPromise, options: ReadOptions = {}): Promise<{ number: number; hash: string }> {
  const header = await withTimeout(
    api.rpc.chain.getHeader(),
    options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    "chain_getHeader",
  );
  return { number: header.number.toNumber(), hash: header.hash.toHex() };
}

export async function readMetagraph(
  api: ApiPromise,
  netuid: number,
  options: ReadOptions = {},
): Promise<MetagraphSnapshotData> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const head = await readHead(api, options);
  const [stateOpt, neuronsVec] = await Promise.all([
    callRuntimeApi(api, "SubnetInfoRuntimeApi_get_subnet_state", netuid, timeoutMs),
    callRuntimeApi(api, "NeuronInfoRuntimeApi_get_neurons_lite", netuid, timeoutMs),
  ]);
  const state = stateOpt as Option<Struct>;
  if (state.isNone)
    throw new ChainDataError(`subnet ${netuid} does not exist on this chain (get_subnet_state returned None)`);
  const s = state.unwrap();
  const hotkeys = field<Vec<Codec>>(s, "hotkeys").map((h) => encodeAddress(h.toU8a(), SS58_PREFIX));
  const permits = field<Vec<Codec>>(s, "validator_permit").map(bool);
  const totalStake = field<Vec<Codec>>(s, "total_stake").map(big);
  const registeredAt = field<Vec<Codec>>(s, "block_at_registration").map(num);
  const uidByHotkey = new Map(hotkeys.map((h, uid) => [h, uid]));

  const neurons: SnapshotNeuron[] = [];
  for (const n of neuronsVec as Vec<Struct>) {
    const hotkey = encodeAddress(field(n, "hotkey").toU8a(), SS58_PREFIX);
    const uid = num(field(n, "uid"));
    // The two calls may straddle a block: look the hotkey up rather than trust positions.
    const stateUid = uidByHotkey.get(hotkey);
    const axon = axonFromCodec(field(n, "axon_info"));
    neurons.push({
      uid,
      hotkey,
      coldkey: encodeAddress(field(n, "coldkey").toU8a(), SS58_PREFIX),
      stake: stateUid === undefined ? 0 : Number(totalStake[stateUid] ?? 0n) / RAO_PER_TAO,
      validatorPermit: stateUid === undefined ? bool(field(n, "validator_permit")) : permits[stateUid] === true,
      active: bool(field(n, "active")),
      incentive: num(field(n, "incentive")) / U16_MAX,
      emission: num(field(n, "emission")) / RAO_PER_TAO,
      lastUpdate: num(field(n, "last_update")),
      blockAtRegistration: stateUid === undefined ? undefined : registeredAt[stateUid],
      axon: snapshotAxon(axon),
    });
  }
  const data = { netuid, block: head.number, takenAt: Date.now(), neurons };
  return MetagraphSnapshot.parse(data, `metagraph of subnet ${netuid} at block ${head.number}`).data;
}

/** One SubtensorModule storage read, bounded; undecodable values become ChainDataError. */
async function queryStorage(api: ApiPromise, name: string, args: unknown[], timeoutMs: number): Promise<Codec> {
  const entry = api.query.subtensorModule?.[name];
  if (!entry) {
    throw new ChainDataError(`this runtime has no SubtensorModule.${name} storage; is the endpoint a subtensor node?`);
  }
  const label = `SubtensorModule.${name[0]?.toUpperCase()}${name.slice(1)}`;
  try {
    return await withTimeout(entry(...args), timeoutMs, label);
  } catch (error) {
    if (error instanceof Error && error.name === "ChainTimeoutError") throw error;
    throw new ChainDataError(`${label} could not be read: ${(error as Error).message}`);
  }
}

/** Own uid on the subnet, or undefined when the hotkey is not registered (`Uids` is None). */
export async function readOwnUid(api: ApiPromise, netuid: number, hotkey: string, options: ReadOptions = {}) {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const value = (await queryStorage(api, "uids", [netuid, normaliseHotkey(hotkey)], timeoutMs)) as Option<Codec>;
  return value.isSome ? num(value.unwrap()) : undefined;
}

/** The on-chain axon record for a hotkey, or undefined when it never served. */
export async function readAxon(api: ApiPromise, netuid: number, hotkey: string, options: ReadOptions = {}) {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const value = await queryStorage(api, "axons", [netuid, normaliseHotkey(hotkey)], timeoutMs);
  const option = value as Option<Codec>;
  if (typeof option.isNone === "boolean") return option.isSome ? axonFromCodec(option.unwrap()) : undefined;
  return axonFromCodec(value);
}

export async function readHyperparameters(
  api: ApiPromise,
  netuid: number,
  options: ReadOptions = {},
): Promise<Hyperparameters> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const read = (name: string) => queryStorage(api, name, [netuid], timeoutMs).then(num);
  const [servingRateLimit, immunityPeriod, tempo] = await Promise.all([
    read("servingRateLimit"),
    read("immunityPeriod"),
    read("tempo"),
  ]);
  return { servingRateLimit, immunityPeriod, tempo };
}
