// One WebSocket connection to a subtensor node: bounded reconnects with exponential backoff, a connect timeout,
// subtensor's transaction extensions configured and checked against the runtime's metadata, and a disconnect that
// really closes the socket and every timer.
import "./polkadot-env.ts";
import { EventEmitter } from "node:events";
import { ApiPromise, WsProvider } from "@polkadot/api";
import type { ExtDef } from "@polkadot/types/extrinsic/signedExtensions/types";
import { config as rxjsConfig } from "rxjs";
import type { ChainLogger } from "./logger.ts";
import { silentLogger } from "./logger.ts";
import { registerSubtensorTypes, SUBTENSOR_RUNTIME_TYPES } from "./runtime-types.ts";
import { checkSignedExtensions, type SignedExtensionCheck, SUBTENSOR_SIGNED_EXTENSIONS } from "./signed-extensions.ts";
import { DEFAULT_CALL_TIMEOUT_MS, withTimeout } from "./timeout.ts";

export const ENDPOINTS = {
  mainnet: "wss://entrypoint-finney.opentensor.ai:443",
  testnet: "wss://test.finney.opentensor.ai:443",
  local: "ws://127.0.0.1:9944",
} as const;

export interface ReconnectPolicy {
  /** First retry delay; doubles per failed attempt. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Consecutive failed attempts before giving up (the connection then emits "gave-up"). */
  maxAttempts: number;
}

export interface ConnectOptions {
  endpoint: string;
  /** Whole initial connect + metadata load. */
  connectTimeoutMs?: number;
  /** Per RPC call; also the provider's own request timeout. */
  callTimeoutMs?: number;
  reconnect?: Partial<ReconnectPolicy>;
  logger?: ChainLogger;
  signedExtensions?: ExtDef;
}

export interface SubtensorConnection {
  readonly api: ApiPromise;
  readonly endpoint: string;
  readonly callTimeoutMs: number;
  readonly extensions: SignedExtensionCheck;
  /** Runs one chain request under the per-call timeout. */
  call<T>(label: string, request: () => Promise<T>): Promise<T>;
  isConnected(): boolean;
  /** "connected" | "disconnected" | "gave-up" */
  readonly events: EventEmitter;
  disconnect(): Promise<void>;
}

// polkadot-js subscribes internally (runtime-version updates, health) without an error handler, so when one of those
// requests fails (the provider's request timeout on a slow node, a socket closed under it) rxjs rethrows the error on
// a timer: an uncaughtException that would kill the miner, even after disconnect. polkadot's RPC-CORE has already
// logged it, and every request of ours carries its own timeout, so it is dropped here instead.
rxjsConfig.onUnhandledError ??= () => undefined;

const DEFAULT_RECONNECT: ReconnectPolicy = { initialDelayMs: 1_000, maxDelayMs: 30_000, maxAttempts: 20 };

export async function connectSubtensor(options: ConnectOptions): Promise<SubtensorConnection> {
  const logger = options.logger ?? silentLogger;
  const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
  const policy = { ...DEFAULT_RECONNECT, ...options.reconnect };
  const signedExtensions = options.signedExtensions ?? SUBTENSOR_SIGNED_EXTENSIONS;
  const { endpoint } = options;
  const events = new EventEmitter();

  // autoConnect off: the provider would otherwise retry forever at a fixed delay; we own the retry policy.
  const provider = new WsProvider(endpoint, false, {}, callTimeoutMs);
  let closing = false;
  let attempts = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let lastError = "";

  const scheduleReconnect = () => {
    if (closing || retryTimer) return;
    if (attempts >= policy.maxAttempts) {
      logger.error("gave up reconnecting to subtensor", { endpoint, attempts, lastError });
      events.emit("gave-up", new Error(`gave up reconnecting to ${endpoint} after ${attempts} attempts`));
      return;
    }
    const delay = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** attempts);
    attempts++;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (closing) return;
      provider.connect().catch((error: Error) => {
        lastError = error.message;
        scheduleReconnect();
      });
    }, delay);
  };

  provider.on("connected", () => {
    if (attempts > 0) logger.info("reconnected to subtensor", { endpoint, attempts });
    attempts = 0;
    events.emit("connected");
  });
  provider.on("disconnected", () => {
    if (closing) return;
    events.emit("disconnected");
    if (attempts === 0) logger.warn("lost connection to subtensor; reconnecting", { endpoint });
    scheduleReconnect();
  });
  provider.on("error", (error: unknown) => {
    lastError = error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? error);
  });

  const api = new ApiPromise({
    provider,
    signedExtensions,
    types: SUBTENSOR_RUNTIME_TYPES as unknown as Record<string, Record<string, string>>,
    noInitWarn: true,
  });
  api.isReadyOrError.catch(() => undefined); // init failures are reported through the "error" event below
  let fatal: ((error: Error) => void) | undefined;
  api.on("error", (error: Error) => {
    if (error?.message?.startsWith("FATAL")) fatal?.(error);
  });

  // Resolves once the socket has actually closed, so callers (and test runners) see no open handle afterwards.
  const shutdown = async () => {
    closing = true;
    clearTimeout(retryTimer);
    retryTimer = undefined;
    const closed = provider.isConnected
      ? new Promise<void>((resolve) => {
          const off = provider.on("disconnected", () => {
            off();
            resolve();
          });
        })
      : Promise.resolve();
    await api.disconnect().catch(() => undefined);
    await withTimeout(closed, 5_000, `closing ${endpoint}`).catch(() => undefined);
  };

  try {
    await provider.connect();
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        fatal = (error) => reject(new Error(`the API could not initialise against ${endpoint}: ${error.message}`));
        api.isReady.then(() => resolve(), reject);
      }),
      connectTimeoutMs,
      `connecting to ${endpoint}`,
    );
  } catch (error) {
    await shutdown();
    const detail = lastError ? ` (last socket error: ${lastError})` : "";
    throw new Error(`${(error as Error).message}${detail}. Check --endpoint and that the node is running.`);
  } finally {
    fatal = undefined;
  }

  registerSubtensorTypes(api.registry);
  const extensions = checkSignedExtensions(api.registry, api.runtimeMetadata, signedExtensions);
  for (const { name, empty } of extensions.unknown) {
    if (empty) logger.warn("unknown transaction extension with no data; treated as no-op", { extension: name });
    else
      logger.error("unknown transaction extension carries data; signed extrinsics will not decode", {
        extension: name,
      });
  }
  for (const { name, detail } of extensions.mismatched) {
    logger.error("transaction extension shape differs from the runtime", { extension: name, detail });
  }
  logger.info("connected to subtensor", {
    endpoint,
    chain: api.runtimeChain.toString(),
    specVersion: api.runtimeVersion.specVersion.toNumber(),
    extensions: extensions.declared,
  });

  return {
    api,
    endpoint,
    callTimeoutMs,
    extensions,
    events,
    call: (label, request) => withTimeout(request(), callTimeoutMs, label),
    isConnected: () => api.isConnected,
    disconnect: shutdown,
  };
}
