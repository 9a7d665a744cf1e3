// `roadwork status`: what the chain says about this miner: uid, stake, validators, incentive, emission, immunity,
// the on-chain axon vs the configured one, and how fresh the metagraph is. Read-only; needs no secret.
import { parseArgs } from "node:util";
import {
  connectSubtensor,
  ENDPOINTS,
  type MinerStatus,
  normaliseHotkey,
  parseIp,
  readMinerStatus,
  versionAsInt,
} from "@roadwork/chain";
import { hotkeySourceFromEnv, loadHotkey } from "@roadwork/chain/keys";
import type { Command } from "../command.ts";

const USAGE = `usage: roadwork status --netuid <n> [--endpoint ws://127.0.0.1:9944] [--hotkey <ss58>]
                       [--external-ip <addr> --port <n> [--axon-version 9.12.2]] [--json] [--timeout <s>]
Without --hotkey the hotkey comes from ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC or ROADWORK_WALLET_NAME +
ROADWORK_WALLET_HOTKEY (only its address is used). --endpoint defaults to $ROADWORK_CHAIN_ENDPOINT, else the local
node. Exit code 0 when the hotkey is registered, 3 when it is not.`;

export type StatusReport = MinerStatus & { endpoint: string };

export function parseVersion(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  try {
    return versionAsInt(text);
  } catch {
    throw new Error(`--axon-version '${text}' must be major.minor.patch or an integer`);
  }
}

/** The node to talk to (--endpoint, else ROADWORK_CHAIN_ENDPOINT, else a local node) and the per-call timeout. */
export function chainTarget(values: { endpoint?: string; timeout?: string }): { endpoint: string; timeoutMs: number } {
  const endpoint = values.endpoint ?? process.env.ROADWORK_CHAIN_ENDPOINT ?? ENDPOINTS.local;
  const timeoutMs = values.timeout ? Number(values.timeout) * 1000 : 20_000;
  if (!(timeoutMs > 0)) throw new Error("--timeout must be a positive number of seconds");
  return { endpoint, timeoutMs };
}

export function parseNetuid(text: string | undefined): number {
  if (text === undefined) throw new Error("--netuid is required (72 on mainnet, 323 on testnet)");
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new Error(`--netuid '${text}' must be an integer 0..65535`);
  return n;
}

export function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new Error(`--port '${text}' must be an integer 1..65535`);
  return n;
}

async function resolveHotkey(flag: string | undefined): Promise<string> {
  if (flag) return normaliseHotkey(flag);
  const source = hotkeySourceFromEnv(process.env);
  if (Object.keys(source).length === 0) {
    throw new Error(
      "no hotkey: pass --hotkey <ss58> or set ROADWORK_HOTKEY_SEED / ROADWORK_HOTKEY_MNEMONIC / ROADWORK_WALLET_NAME",
    );
  }
  return (await loadHotkey(source)).address;
}

export const command: Command = {
  summary: "show this miner's standing on chain (uid, stake, incentive, axon)",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        endpoint: { type: "string" },
        netuid: { type: "string" },
        hotkey: { type: "string" },
        "external-ip": { type: "string" },
        port: { type: "string" },
        "axon-version": { type: "string" },
        json: { type: "boolean" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const netuid = parseNetuid(values.netuid);
    const { endpoint, timeoutMs } = chainTarget(values);
    if ((values["external-ip"] === undefined) !== (values.port === undefined)) {
      throw new Error("--external-ip and --port go together (the axon you intend to serve)");
    }
    const desired = values["external-ip"]
      ? {
          ip: values["external-ip"],
          port: parsePort(values.port ?? ""),
          version: parseVersion(values["axon-version"] ?? "9.12.2"),
        }
      : undefined;
    if (desired) parseIp(desired.ip);
    const hotkey = await resolveHotkey(values.hotkey);

    const conn = await connectSubtensor({ endpoint, connectTimeoutMs: timeoutMs, callTimeoutMs: timeoutMs });
    try {
      const status = await readMinerStatus(conn.api, { netuid, hotkey, timeoutMs, ...(desired ? { desired } : {}) });
      const report: StatusReport = { endpoint, ...status };
      console.log(values.json ? JSON.stringify(report, null, 2) : formatStatus(report));
      return report.registered ? 0 : 3;
    } finally {
      await conn.disconnect();
    }
  },
};

const hours = (blocks: number) => `${((blocks * 12) / 3600).toFixed(1)} h`;

export function formatStatus(r: StatusReport): string {
  const lines: [string, string][] = [
    ["chain", `${r.chain} spec ${r.specVersion} at ${r.endpoint}, block ${r.block}`],
    [
      "subnet",
      `netuid ${r.netuid}: tempo ${r.hyperparameters.tempo}, immunity period ${r.hyperparameters.immunityPeriod}, ` +
        `serving rate limit ${r.hyperparameters.servingRateLimit} blocks`,
    ],
    ["hotkey", r.hotkey],
  ];
  if (!r.registered) {
    lines.push(["uid", `NOT REGISTERED on netuid ${r.netuid}: validators will not query this miner`]);
  } else {
    lines.push(
      ["uid", String(r.uid)],
      ["stake", `${r.stake?.toFixed(9) ?? "?"} (total stake, alpha + weighted TAO)`],
      ["incentive", r.incentive?.toFixed(6) ?? "?"],
      ["emission", `${r.emission?.toFixed(9) ?? "?"} per tempo`],
      [
        "immunity",
        r.immunityLeftBlocks === null
          ? "unknown"
          : r.immunityLeftBlocks === 0
            ? "expired (can be pruned)"
            : `${r.immunityLeftBlocks} blocks left (~${hours(r.immunityLeftBlocks)})`,
      ],
    );
  }
  lines.push(["validators", `${r.validators.withPermit} with permit among ${r.validators.neurons} neurons`]);
  lines.push([
    "axon",
    r.axon.onChain
      ? `on chain ${r.axon.onChain} (version ${r.axon.version}, served at block ${r.axon.servedAtBlock})`
      : "not served on chain",
  ]);
  if (r.configured) {
    const c = r.configured;
    lines.push([
      "configured",
      c.matches
        ? `${c.axon}: matches the chain, serve_axon not needed`
        : `${c.axon}: differs (${c.reason}); serve_axon allowed ${
            c.nextAllowedBlock !== null && c.nextAllowedBlock > r.block ? `from block ${c.nextAllowedBlock}` : "now"
          }`,
    ]);
  }
  const age = (Date.now() - r.metagraph.takenAt) / 1000;
  lines.push([
    "metagraph",
    `block ${r.metagraph.block}, read at ${new Date(r.metagraph.takenAt).toISOString()} ` +
      `in ${r.metagraph.readMs} ms (age ${age.toFixed(1)} s)`,
  ]);
  return lines.map(([k, v]) => `${k.padEnd(11)} ${v}`).join("\n");
}
