// `roadwork status`: what the chain says about this miner: uid, stake, validators, incentive, emission, immunity,
// the on-chain axon vs the configured one, and how fresh the metagraph is. Read-only; needs no secret.
import type { MinerStatus, SubnetPulse } from "@roadwork/chain";
import { defineCommand, UsageError } from "../command.ts";

/** Mirrors @roadwork/chain's ENDPOINTS.local (inlined so --help loads nothing heavy). */
const LOCAL_NODE = "ws://127.0.0.1:9944";

export type StatusReport = MinerStatus & { endpoint: string; pulse: SubnetPulse };

export function parseVersion(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!m) throw new UsageError(`--axon-version '${text}' must be major.minor.patch or an integer`);
  return Number(m[1]) * 1_000_000 + Number(m[2]) * 1_000 + Number(m[3]);
}

/** The node to talk to (--endpoint, else ROADWORK_CHAIN_ENDPOINT, else a local node) and the per-call timeout. */
export function chainTarget(values: { endpoint?: string; timeout?: string }): { endpoint: string; timeoutMs: number } {
  const endpoint = values.endpoint ?? process.env.ROADWORK_CHAIN_ENDPOINT ?? LOCAL_NODE;
  const timeoutMs = values.timeout ? Number(values.timeout) * 1000 : 20_000;
  if (!(timeoutMs > 0)) throw new UsageError("--timeout must be a positive number of seconds");
  return { endpoint, timeoutMs };
}

export function parseNetuid(text: string | undefined): number {
  if (text === undefined) throw new UsageError("--netuid is required (72 on mainnet, 323 on testnet)");
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
  const { normaliseHotkey } = await import("@roadwork/chain");
  const { hotkeySourceFromEnv, loadHotkey } = await import("@roadwork/chain/keys");
  if (flag) return normaliseHotkey(flag);
  const source = hotkeySourceFromEnv(process.env);
  if (Object.keys(source).length === 0) {
    throw new Error(
      "no hotkey: pass --hotkey <ss58> or set ROADWORK_HOTKEY_SEED / ROADWORK_HOTKEY_MNEMONIC / ROADWORK_WALLET_NAME",
    );
  }
  return (await loadHotkey(source)).address;
}

export const command = defineCommand({
  name: "status",
  summary: "show this miner's standing on chain and whether the subnet pays (paying/burning/silent)",
  usage: "--netuid <n> [options]",
  description: `Without --hotkey the hotkey comes from ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC or ROADWORK_WALLET_NAME +
ROADWORK_WALLET_HOTKEY (only its address is used). --endpoint defaults to $ROADWORK_CHAIN_ENDPOINT, else the local
node. The first line, 'pulse', says whether the subnet pays this miner (paying), other miners (paying-others), burns
every miner's emission to the owner uid (burning), or pays nobody (silent). Exit code 0 when the hotkey is
registered, 3 when it is not.`,
  options: {
    netuid: { type: "string", value: "<n>", help: "the subnet (72 mainnet, 323 testnet)" },
    endpoint: {
      type: "string",
      value: "<ws url>",
      help: `subtensor node (default: $ROADWORK_CHAIN_ENDPOINT, else ${LOCAL_NODE})`,
    },
    hotkey: { type: "string", value: "<ss58>", help: "the miner's hotkey address" },
    "external-ip": {
      type: "string",
      value: "<addr>",
      help: "compare the on-chain axon with this address (with --port)",
    },
    port: { type: "string", value: "<n>", help: "the axon port to compare (with --external-ip)" },
    "axon-version": { type: "string", value: "<x.y.z>", default: "9.12.2", help: "axon version to compare" },
    json: { type: "boolean", help: "print JSON" },
    timeout: { type: "string", value: "<s>", help: "per-call timeout (default 20)" },
  },
  async run({ values }) {
    const netuid = parseNetuid(values.netuid);
    const { endpoint, timeoutMs } = chainTarget(values);
    if ((values["external-ip"] === undefined) !== (values.port === undefined)) {
      throw new UsageError("--external-ip and --port go together (the axon you intend to serve)");
    }
    const desired = values["external-ip"]
      ? {
          ip: values["external-ip"],
          port: parsePort(values.port ?? ""),
          version: parseVersion(values["axon-version"]),
        }
      : undefined;
    const { connectSubtensor, parseIp, readMinerStatus, readSubnetPulse } = await import("@roadwork/chain");
    if (desired) parseIp(desired.ip);
    const hotkey = await resolveHotkey(values.hotkey);

    const conn = await connectSubtensor({ endpoint, connectTimeoutMs: timeoutMs, callTimeoutMs: timeoutMs });
    try {
      const status = await readMinerStatus(conn.api, { netuid, hotkey, timeoutMs, ...(desired ? { desired } : {}) });
      const pulse = await readSubnetPulse(conn.api, { netuid, hotkey, timeoutMs });
      const report: StatusReport = { endpoint, ...status, pulse };
      console.log(values.json ? JSON.stringify(report, null, 2) : formatStatus(report));
      return report.registered ? 0 : 3;
    } finally {
      await conn.disconnect();
    }
  },
});

const hours = (blocks: number) => `${((blocks * 12) / 3600).toFixed(1)} h`;

export function formatStatus(r: StatusReport): string {
  const lines: [string, string][] = [
    ["pulse", r.pulse.line],
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
