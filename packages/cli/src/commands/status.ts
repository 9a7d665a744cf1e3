// `roadwork status`: what the chain says about this miner: uid, stake, validators, incentive, emission, immunity,
// the on-chain axon vs the configured one, and how fresh the metagraph is. Read-only; needs no secret.
import { parseArgs } from "node:util";
import {
  type AxonInfo,
  connectSubtensor,
  ENDPOINTS,
  normaliseHotkey,
  parseIp,
  planServeAxon,
  readAxon,
  readHyperparameters,
  readMetagraph,
  readOwnUid,
  type SnapshotNeuron,
  servingRateLimitStatus,
  versionAsInt,
} from "@roadwork/chain";
import { hotkeySourceFromEnv, loadHotkey } from "@roadwork/chain/keys";
import type { Command } from "../command.ts";

const USAGE = `usage: roadwork status --netuid <n> [--endpoint ws://127.0.0.1:9944] [--hotkey <ss58>]
                       [--external-ip <addr> --port <n> [--axon-version 9.12.2]] [--json] [--timeout <s>]
Without --hotkey the hotkey comes from ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC or ROADWORK_WALLET_NAME +
ROADWORK_WALLET_HOTKEY (only its address is used). --endpoint defaults to $ROADWORK_CHAIN_ENDPOINT, else the local
node. Exit code 0 when the hotkey is registered, 3 when it is not.`;

export interface StatusReport {
  endpoint: string;
  chain: string;
  specVersion: number;
  block: number;
  netuid: number;
  hotkey: string;
  registered: boolean;
  uid: number | null;
  stake: number | null;
  incentive: number | null;
  emission: number | null;
  validators: { withPermit: number; neurons: number };
  hyperparameters: { tempo: number; immunityPeriod: number; servingRateLimit: number };
  immunityLeftBlocks: number | null;
  axon: { onChain: string | null; servedAtBlock: number | null; version: number | null };
  configured: { axon: string; matches: boolean; reason: string; nextAllowedBlock: number | null } | null;
  metagraph: { block: number; readMs: number; ageMs: number };
}

export function parseVersion(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  try {
    return versionAsInt(text);
  } catch {
    throw new Error(`--axon-version '${text}' must be major.minor.patch or an integer`);
  }
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

const fmtAxon = (a: AxonInfo | undefined) => (a && a.ip !== 0n ? `${a.ipText}:${a.port}` : null);

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
    const endpoint = values.endpoint ?? process.env.ROADWORK_CHAIN_ENDPOINT ?? ENDPOINTS.local;
    const timeoutMs = values.timeout ? Number(values.timeout) * 1000 : 20_000;
    if (!(timeoutMs > 0)) throw new Error("--timeout must be a positive number of seconds");
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
      const { api } = conn;
      const started = Date.now();
      const [metagraph, uid, onChain, hyper] = await Promise.all([
        readMetagraph(api, netuid, { timeoutMs }),
        readOwnUid(api, netuid, hotkey, { timeoutMs }),
        readAxon(api, netuid, hotkey, { timeoutMs }),
        readHyperparameters(api, netuid, { timeoutMs }),
      ]);
      const readMs = Date.now() - started;
      const me: SnapshotNeuron | undefined = metagraph.neurons.find((n) => n.hotkey === hotkey);
      const block = metagraph.block;
      let configured: StatusReport["configured"] = null;
      if (desired) {
        const plan = planServeAxon({ netuid, onChain, desired });
        const limit = servingRateLimitStatus({
          servingRateLimit: hyper.servingRateLimit,
          currentBlock: block,
          lastServedBlock: onChain?.block ?? 0,
        });
        configured = {
          axon: `${desired.ip}:${desired.port}`,
          matches: plan.action === "skip",
          reason: plan.reason,
          nextAllowedBlock: plan.action === "serve" ? limit.nextAllowedBlock : null,
        };
      }
      const report: StatusReport = {
        endpoint,
        chain: api.runtimeChain.toString(),
        specVersion: api.runtimeVersion.specVersion.toNumber(),
        block,
        netuid,
        hotkey,
        registered: uid !== undefined,
        uid: uid ?? null,
        stake: me?.stake ?? null,
        incentive: me?.incentive ?? null,
        emission: me?.emission ?? null,
        validators: {
          withPermit: metagraph.neurons.filter((n) => n.validatorPermit).length,
          neurons: metagraph.neurons.length,
        },
        hyperparameters: hyper,
        immunityLeftBlocks:
          me?.blockAtRegistration === undefined
            ? null
            : Math.max(0, hyper.immunityPeriod - (block - me.blockAtRegistration)),
        axon: { onChain: fmtAxon(onChain), servedAtBlock: onChain?.block ?? null, version: onChain?.version ?? null },
        configured,
        metagraph: { block, readMs, ageMs: Date.now() - (metagraph.takenAt ?? started) },
      };
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
  lines.push([
    "metagraph",
    `block ${r.metagraph.block}, read in ${r.metagraph.readMs} ms, age ${(r.metagraph.ageMs / 1000).toFixed(1)} s`,
  ]);
  return lines.map(([k, v]) => `${k.padEnd(11)} ${v}`).join("\n");
}
