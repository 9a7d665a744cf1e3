// Everything a running axon needs from the chain, wired once: the connection, a MetagraphWatcher as the axon's
// metagraph source (refreshed at once after a reconnect), and — once the HTTP server listens — an AxonAnnouncer
// keeping serve_axon in line with the configured public address.
import type { KeyringPair } from "@polkadot/keyring/types";
import { AxonAnnouncer } from "./axon-announcer.ts";
import { type ConnectOptions, connectSubtensor, type SubtensorConnection } from "./connection.ts";
import type { ChainLogger } from "./logger.ts";
import { silentLogger } from "./logger.ts";
import { MetagraphWatcher } from "./metagraph-watcher.ts";
import type { DesiredAxon } from "./serve-axon.ts";

export interface ChainSessionOptions extends Omit<ConnectOptions, "logger"> {
  netuid: number;
  hotkey: KeyringPair;
  /** Further hotkeys this process serves (one axon each): watched for registration and announced like the first. */
  moreHotkeys?: readonly KeyringPair[];
  logger?: ChainLogger;
  /** Metagraph refresh period (default 90 s). */
  refreshMs?: number;
}

export interface ChainSession {
  readonly connection: SubtensorConnection;
  /** The axon's metagraph source: `{ current(), ageMs() }`. */
  readonly metagraph: MetagraphWatcher;
  /**
   * Starts announcing `desired` on chain for `options.hotkey` (default: the first hotkey); call after that hotkey's
   * axon listens. Resolves after the first attempt. Announcing a hotkey again replaces its announcer.
   */
  announce(desired: DesiredAxon, options?: { blockMs?: number; hotkey?: KeyringPair }): Promise<AxonAnnouncer>;
  close(): Promise<void>;
}

export async function startChainSession(options: ChainSessionOptions): Promise<ChainSession> {
  const logger = options.logger ?? silentLogger;
  const { netuid, hotkey } = options;
  const connection = await connectSubtensor({ ...options, logger });
  let metagraph: MetagraphWatcher;
  try {
    metagraph = await MetagraphWatcher.start({
      api: connection.api,
      netuid,
      hotkey: hotkey.address,
      moreHotkeys: (options.moreHotkeys ?? []).map((k) => k.address),
      logger,
      intervalMs: options.refreshMs,
      timeoutMs: connection.callTimeoutMs,
    });
  } catch (error) {
    await connection.disconnect();
    throw error;
  }
  const refreshNow = () => void metagraph.refresh();
  connection.events.on("connected", refreshNow);
  const announcers = new Map<string, AxonAnnouncer>();
  return {
    connection,
    metagraph,
    async announce(desired, { hotkey: announced = hotkey, ...announceOptions } = {}) {
      if (!connection.extensions.ok) {
        const names = [
          ...connection.extensions.unknown.filter((u) => !u.empty).map((u) => u.name),
          ...connection.extensions.mismatched.map((m) => m.name),
        ];
        throw new Error(
          `cannot announce the axon: the runtime's transaction extensions ${names.join(", ")} are not encodable here; ` +
            "a signed serve_axon would not decode on chain (update SUBTENSOR_SIGNED_EXTENSIONS)",
        );
      }
      announcers.get(announced.address)?.stop();
      const announcer = new AxonAnnouncer({
        api: connection.api,
        netuid,
        hotkey: announced,
        desired,
        watcher: metagraph,
        logger,
        timeoutMs: connection.callTimeoutMs,
        ...announceOptions,
      });
      announcers.set(announced.address, announcer);
      await announcer.start();
      return announcer;
    },
    async close() {
      connection.events.off("connected", refreshNow);
      for (const announcer of announcers.values()) announcer.stop();
      metagraph.stop();
      await connection.disconnect();
    },
  };
}
