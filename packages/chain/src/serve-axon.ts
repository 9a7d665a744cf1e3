// Announcing the axon on chain (SubtensorModule.serve_axon, call index 4), the way the Python SDK does it: skip when
// the on-chain record already matches, respect ServingRateLimit, sign with the hotkey, wait for inclusion and turn
// dispatch errors into plain messages. The external IP always comes from configuration; it is never guessed.
import type { ApiPromise } from "@polkadot/api";
import type { SubmittableExtrinsic } from "@polkadot/api/types";
import type { KeyringPair } from "@polkadot/keyring/types";
import type { DispatchError } from "@polkadot/types/interfaces";
import type { ISubmittableResult } from "@polkadot/types/types";
import { type ChainIp, chainIpProblem, parseIp } from "./ip.ts";
import type { ChainLogger } from "./logger.ts";
import { silentLogger } from "./logger.ts";
import { type AxonInfo, readAxon, readHead, readHyperparameters, readOwnUid } from "./metagraph-reader.ts";

export const AXON_PROTOCOL = 4; // what the SDK sends, whatever the chain docstring says
export const BLOCK_SECONDS = 12;

export interface DesiredAxon {
  /** Public IPv4/IPv6 literal from configuration. */
  ip: string;
  port: number;
  /** major*1_000_000 + minor*1_000 + patch */
  version: number;
}

export interface ServeAxonParams extends ChainIp {
  netuid: number;
  version: number;
  port: number;
  protocol: number;
  placeholder1: number;
  placeholder2: number;
}

export type ServePlan =
  | { action: "skip"; reason: string; params: ServeAxonParams }
  | { action: "serve"; reason: string; params: ServeAxonParams };

export function versionAsInt(version: string): number {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!match) throw new Error(`version '${version}' is not major.minor.patch`);
  return Number(match[1]) * 1_000_000 + Number(match[2]) * 1_000 + Number(match[3]);
}

export function serveParams(netuid: number, desired: DesiredAxon): ServeAxonParams {
  const ip = parseIp(desired.ip);
  const problem = chainIpProblem(ip);
  if (problem) throw new Error(`cannot serve on ${desired.ip}: ${problem} (InvalidIpAddress)`);
  if (!Number.isInteger(desired.port) || desired.port < 1 || desired.port > 65535)
    throw new Error(`port ${desired.port} must be 1..65535 (InvalidPort)`);
  if (!Number.isInteger(desired.version) || desired.version < 0 || desired.version > 0xffffffff)
    throw new Error(`version ${desired.version} must fit in u32`);
  if (!Number.isInteger(netuid) || netuid < 0 || netuid > 65535) throw new Error(`netuid ${netuid} must be 0..65535`);
  return {
    netuid,
    version: desired.version,
    ...ip,
    port: desired.port,
    protocol: AXON_PROTOCOL,
    placeholder1: 0,
    placeholder2: 0,
  };
}

/** Skip when every field the SDK compares (AxonServeCallParams.__eq__) already matches the chain. */
export function planServeAxon(input: {
  netuid: number;
  onChain: AxonInfo | undefined;
  desired: DesiredAxon;
}): ServePlan {
  const params = serveParams(input.netuid, input.desired);
  const chain = input.onChain;
  if (!chain || chain.ip === 0n) return { action: "serve", reason: "no axon on chain yet", params };
  const diffs: string[] = [];
  if (chain.ip !== params.ip) diffs.push(`ip ${chain.ipText} -> ${input.desired.ip}`);
  if (chain.port !== params.port) diffs.push(`port ${chain.port} -> ${params.port}`);
  if (chain.ipType !== params.ipType) diffs.push(`ip_type ${chain.ipType} -> ${params.ipType}`);
  if (chain.version !== params.version) diffs.push(`version ${chain.version} -> ${params.version}`);
  if (chain.protocol !== params.protocol) diffs.push(`protocol ${chain.protocol} -> ${params.protocol}`);
  if (chain.placeholder1 !== 0 || chain.placeholder2 !== 0) diffs.push("placeholders -> 0");
  return diffs.length === 0
    ? { action: "skip", reason: "on-chain axon already matches", params }
    : { action: "serve", reason: diffs.join(", "), params };
}

export interface RateLimitStatus {
  allowed: boolean;
  currentBlock: number;
  nextAllowedBlock: number;
  blocksToWait: number;
  /** At 12 s blocks. */
  secondsToWait: number;
}

/** subtensor `axon_passes_rate_limit`: limit 0, never served, or current - last >= limit. */
export function servingRateLimitStatus(input: {
  servingRateLimit: number;
  currentBlock: number;
  lastServedBlock: number;
}): RateLimitStatus {
  const { servingRateLimit, currentBlock, lastServedBlock } = input;
  const allowed = servingRateLimit === 0 || lastServedBlock === 0 || currentBlock - lastServedBlock >= servingRateLimit;
  const nextAllowedBlock = allowed ? currentBlock : lastServedBlock + servingRateLimit;
  const blocksToWait = Math.max(0, nextAllowedBlock - currentBlock);
  return { allowed, currentBlock, nextAllowedBlock, blocksToWait, secondsToWait: blocksToWait * BLOCK_SECONDS };
}

export interface EncodedServeAxon {
  call: SubmittableExtrinsic<"promise">;
  /** SCALE call bytes: pallet index, call index 4, arguments. */
  hex: string;
  /** The call decoded back through the runtime metadata. */
  decoded: { section: string; method: string; args: Record<string, string> };
}

export function encodeServeAxon(api: ApiPromise, params: ServeAxonParams): EncodedServeAxon {
  const serveAxon = api.tx.subtensorModule?.serveAxon;
  if (!serveAxon)
    throw new Error("this runtime has no SubtensorModule.serve_axon call; is the endpoint a subtensor node?");
  const call = serveAxon(
    params.netuid,
    params.version,
    params.ip,
    params.port,
    params.ipType,
    params.protocol,
    params.placeholder1,
    params.placeholder2,
  );
  const hex = call.method.toHex();
  const back = api.registry.createType("Call", hex);
  const args: Record<string, string> = {};
  back.meta.args.forEach((arg, i) => {
    args[arg.name.toString()] = back.args[i]?.toString() ?? "";
  });
  return { call, hex, decoded: { section: back.section, method: back.method, args } };
}

const PLAIN_ERRORS: Record<string, string> = {
  ServingRateLimitExceeded: "served too recently; the chain allows one serve_axon per ServingRateLimit blocks",
  HotKeyNotRegisteredInNetwork: "the hotkey is not registered on this subnet; register it first (btcli s register)",
  HotKeyNotRegisteredInSubNet: "the hotkey is not registered on this subnet; register it first (btcli s register)",
  InvalidIpAddress: "the chain rejected the IP address (loopback, zero-prefix or out of range); pass the public IP",
  InvalidIpType: "ip_type must be 4 or 6",
  InvalidPort: "port must not be 0",
  SubnetNotExists: "the subnet does not exist on this chain; check --netuid and --endpoint",
  MechanismDoesNotExist: "the subnet does not exist on this chain; check --netuid and --endpoint",
};

export class ServeAxonError extends Error {
  constructor(
    /** Runtime error name, e.g. ServingRateLimitExceeded. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ServeAxonError";
  }
}

export function describeDispatchError(api: ApiPromise, error: DispatchError): ServeAxonError {
  if (error.isModule) {
    try {
      const meta = api.registry.findMetaError(error.asModule);
      const plain = PLAIN_ERRORS[meta.name] ?? (meta.docs.join(" ").trim() || "no description in the runtime");
      return new ServeAxonError(meta.name, `serve_axon failed: ${meta.name}: ${plain}`);
    } catch {
      return new ServeAxonError(
        "Module",
        `serve_axon failed with an unknown module error ${error.asModule.toString()}`,
      );
    }
  }
  return new ServeAxonError(error.type, `serve_axon failed: ${error.type} ${error.toString()}`);
}

export interface SubmitResult {
  blockHash: string;
  txHash: string;
}

/** Signs with the hotkey, submits, resolves once included in a block; dispatch errors reject with their name. */
export async function submitServeAxon(
  api: ApiPromise,
  hotkey: KeyringPair,
  call: SubmittableExtrinsic<"promise">,
  options: { timeoutMs?: number } = {},
): Promise<SubmitResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  let unsubscribe: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<SubmitResult>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(new ServeAxonError("Timeout", `serve_axon not included within ${timeoutMs / 1000}s; check the node`)),
        timeoutMs,
      );
      const onStatus = (result: ISubmittableResult) => {
        const { status, dispatchError } = result;
        if (status.isInvalid || status.isDropped || status.isUsurped) {
          reject(
            new ServeAxonError(status.type, `serve_axon transaction was ${status.type.toLowerCase()} by the node`),
          );
        } else if (status.isInBlock || status.isFinalized) {
          if (dispatchError) reject(describeDispatchError(api, dispatchError));
          else {
            const blockHash = (status.isInBlock ? status.asInBlock : status.asFinalized).toHex();
            resolve({ blockHash, txHash: result.txHash.toHex() });
          }
        }
      };
      call
        .signAndSend(hotkey, { nonce: -1 }, onStatus)
        .then((unsub) => {
          unsubscribe = unsub;
        })
        .catch((error: Error) => reject(submitRejection(error)));
    });
  } finally {
    clearTimeout(timer);
    unsubscribe?.();
  }
}

// The transaction pool rejects before dispatch with "1010: Invalid Transaction: ..." (custom codes from
// CheckServingEndpoints among them).
function submitRejection(error: Error): ServeAxonError {
  const known = Object.keys(PLAIN_ERRORS).find((name) => error.message.includes(name));
  if (known) return new ServeAxonError(known, `serve_axon rejected: ${known}: ${PLAIN_ERRORS[known]}`);
  return new ServeAxonError("Rejected", `serve_axon rejected by the node: ${error.message}`);
}

export type EnsureServingResult =
  | { action: "skipped"; reason: string }
  | { action: "rate-limited"; reason: string; rateLimit: RateLimitStatus }
  | { action: "served"; reason: string; blockHash: string };

/** Run at start and after an IP change or re-registration: serve only when needed and allowed. */
export async function ensureServing(input: {
  api: ApiPromise;
  netuid: number;
  hotkey: KeyringPair;
  desired: DesiredAxon;
  logger?: ChainLogger;
  timeoutMs?: number;
}): Promise<EnsureServingResult> {
  const { api, netuid, hotkey, desired } = input;
  const logger = input.logger ?? silentLogger;
  const read = { timeoutMs: input.timeoutMs };
  const uid = await readOwnUid(api, netuid, hotkey.address, read);
  if (uid === undefined) {
    throw new ServeAxonError(
      "HotKeyNotRegisteredInNetwork",
      `hotkey ${hotkey.address} is not registered on netuid ${netuid}; register it before serving`,
    );
  }
  const onChain = await readAxon(api, netuid, hotkey.address, read);
  const plan = planServeAxon({ netuid, onChain, desired });
  if (plan.action === "skip") {
    logger.info("axon already served with these parameters", { netuid, uid, ip: desired.ip, port: desired.port });
    return { action: "skipped", reason: plan.reason };
  }
  const [{ servingRateLimit }, head] = await Promise.all([readHyperparameters(api, netuid, read), readHead(api, read)]);
  const rateLimit = servingRateLimitStatus({
    servingRateLimit,
    currentBlock: head.number,
    lastServedBlock: onChain?.block ?? 0,
  });
  if (!rateLimit.allowed) {
    logger.warn("serve_axon is rate-limited; will retry", {
      netuid,
      nextAllowedBlock: rateLimit.nextAllowedBlock,
      secondsToWait: rateLimit.secondsToWait,
    });
    return { action: "rate-limited", reason: plan.reason, rateLimit };
  }
  const { call } = encodeServeAxon(api, plan.params);
  const { blockHash } = await submitServeAxon(api, hotkey, call, { timeoutMs: input.timeoutMs ?? 120_000 });
  logger.info("axon served", { netuid, uid, ip: desired.ip, port: desired.port, reason: plan.reason, blockHash });
  return { action: "served", reason: plan.reason, blockHash };
}
