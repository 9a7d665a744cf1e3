// Many hotkeys, one model: one process serves each of an operator's hotkeys on its own port with its own axon (identity,
// nonce store, blacklist view, rate limits, queue, metrics), all sharing one scorer — so one ModelHost, one set of GPU
// sessions and one image-hash result cache (validators send the same challenge to several of an operator's hotkeys;
// the second and later copies are answered from the cache) — and one signature-verifier pool.
import { type Axon, type AxonDeps, type AxonHotkey, createAxon } from "./axon.ts";
import type { AxonConfigInput } from "./config.ts";
import { type RunningAxon, startAxon } from "./server.ts";

export interface FleetMember {
  hotkey: AxonHotkey;
  /** Public port of this hotkey's axon (what it announces on chain). */
  port: number;
  /** Admin (/metrics) port; default: the config's admin port + the member's index, when the config has one. */
  adminPort?: number;
}

export interface HotkeyFleetDeps extends Omit<AxonDeps, "hotkey" | "nonces"> {
  members: readonly FleetMember[];
}

export interface FleetAxon {
  hotkey: string;
  axon: Axon;
  running: RunningAxon;
}

export interface RunningFleet {
  axons: FleetAxon[];
  /** Closes every listener (in-flight requests drain up to `graceMs`); the shared scorer is the caller's to close. */
  close(graceMs?: number): Promise<void>;
}

/** Checks a fleet before anything listens: distinct hotkeys, distinct ports. */
export function checkFleet(members: readonly FleetMember[]): void {
  if (members.length === 0) throw new Error("no hotkeys to serve: give at least one");
  const hotkeys = new Set<string>();
  const ports = new Set<number>();
  for (const m of members) {
    if (hotkeys.has(m.hotkey.address)) throw new Error(`hotkey ${m.hotkey.address} is listed twice`);
    hotkeys.add(m.hotkey.address);
    for (const port of [m.port, m.adminPort]) {
      if (port === undefined || port === 0) continue;
      if (ports.has(port)) throw new Error(`port ${port} is used twice; each hotkey needs its own port`);
      ports.add(port);
    }
  }
}

/** Creates one axon per hotkey over the shared scorer and starts them all; any failure closes those started. */
export async function startHotkeyFleet(deps: HotkeyFleetDeps): Promise<RunningFleet> {
  checkFleet(deps.members);
  const { members, config, ...shared } = deps;
  const base: AxonConfigInput = config ?? {};
  const axons: FleetAxon[] = [];
  try {
    for (const [i, m] of members.entries()) {
      const basePort = base.admin?.port;
      // Port 0 (any free port) stays 0 for every member; a fixed admin port is counted up from.
      const adminPort = m.adminPort ?? (basePort === undefined ? undefined : basePort === 0 ? 0 : basePort + i);
      const axon = createAxon({
        ...shared,
        hotkey: m.hotkey,
        config: {
          ...base,
          port: m.port,
          ...(adminPort !== undefined ? { admin: { ...base.admin, port: adminPort } } : {}),
        },
      });
      axons.push({ hotkey: m.hotkey.address, axon, running: await startAxon(axon) });
    }
  } catch (error) {
    await Promise.all(axons.map((a) => a.running.close(1_000)));
    throw error;
  }
  return {
    axons,
    close: async (graceMs = 10_000) => {
      await Promise.all(axons.map((a) => a.running.close(graceMs)));
    },
  };
}
