// `roadwork serve-axon`: announce the axon's public address on chain (SubtensorModule.serve_axon), signed by the
// hotkey. --dry-run prints the encoded call and its decoded form without signing or submitting anything.
import { parseArgs } from "node:util";
import {
  connectSubtensor,
  encodeServeAxon,
  planServeAxon,
  readAxon,
  readHead,
  readHyperparameters,
  readOwnUid,
  ServeAxonError,
  serveParams,
  servingRateLimitStatus,
  submitServeAxon,
} from "@roadwork/chain";
import { hotkeySourceFromEnv, loadHotkey } from "@roadwork/chain/keys";
import type { Command } from "../command.ts";
import { chainTarget, parseNetuid, parsePort, parseVersion } from "./status.ts";

const USAGE = `usage: roadwork serve-axon --ip <public addr> --port <n> --netuid <n> [--endpoint ws://127.0.0.1:9944]
                           [--axon-version 9.12.2] [--dry-run] [--force] [--timeout <s>]
--ip is the address validators reach (e.g. the Elastic IP); it is never guessed. The hotkey comes from
ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC or ROADWORK_WALLET_NAME + ROADWORK_WALLET_HOTKEY (not needed for
--dry-run). Without --force nothing is sent when the chain already holds the same axon.`;

export const command: Command = {
  summary: "announce the axon's address on chain (serve_axon); --dry-run shows the call",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        ip: { type: "string" },
        port: { type: "string" },
        netuid: { type: "string" },
        endpoint: { type: "string" },
        "axon-version": { type: "string" },
        "dry-run": { type: "boolean" },
        force: { type: "boolean" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (!values.ip) throw new Error(`--ip is required (the public address validators connect to)\n${USAGE}`);
    if (!values.port) throw new Error(`--port is required\n${USAGE}`);
    const netuid = parseNetuid(values.netuid);
    const desired = {
      ip: values.ip,
      port: parsePort(values.port),
      version: parseVersion(values["axon-version"] ?? "9.12.2"),
    };
    const params = serveParams(netuid, desired); // validates ip/port before connecting
    const { endpoint, timeoutMs } = chainTarget(values);
    const dryRun = values["dry-run"] === true;
    const hotkey = dryRun ? undefined : await loadHotkey(hotkeySourceFromEnv(process.env));

    const conn = await connectSubtensor({ endpoint, connectTimeoutMs: timeoutMs, callTimeoutMs: timeoutMs });
    try {
      const { api } = conn;
      const encoded = encodeServeAxon(api, params);
      if (dryRun) {
        console.log(
          JSON.stringify(
            {
              endpoint,
              specVersion: api.runtimeVersion.specVersion.toNumber(),
              callHex: encoded.hex,
              call: encoded.decoded,
              submitted: false,
            },
            null,
            2,
          ),
        );
        return 0;
      }
      if (!hotkey) throw new Error("no hotkey loaded");
      if (!conn.extensions.ok) {
        throw new Error(
          `the runtime declares transaction extensions this miner cannot encode (${[
            ...conn.extensions.unknown.filter((u) => !u.empty).map((u) => u.name),
            ...conn.extensions.mismatched.map((m) => m.name),
          ].join(", ")}); a signed serve_axon would not decode on chain`,
        );
      }
      const address = hotkey.address;
      const [uid, onChain, hyper, head] = await Promise.all([
        readOwnUid(api, netuid, address, { timeoutMs }),
        readAxon(api, netuid, address, { timeoutMs }),
        readHyperparameters(api, netuid, { timeoutMs }),
        readHead(api, { timeoutMs }),
      ]);
      if (uid === undefined) {
        throw new ServeAxonError(
          "HotKeyNotRegisteredInNetwork",
          `hotkey ${address} is not registered on netuid ${netuid}; register it first (btcli s register --netuid ${netuid})`,
        );
      }
      const plan = planServeAxon({ netuid, onChain, desired });
      if (plan.action === "skip" && !values.force) {
        console.log(
          `axon ${desired.ip}:${desired.port} is already on chain for uid ${uid}; nothing sent (--force to resend)`,
        );
        return 0;
      }
      const limit = servingRateLimitStatus({
        servingRateLimit: hyper.servingRateLimit,
        currentBlock: head.number,
        lastServedBlock: onChain?.block ?? 0,
      });
      if (!limit.allowed) {
        throw new ServeAxonError(
          "ServingRateLimitExceeded",
          `served at block ${onChain?.block}; ServingRateLimit is ${hyper.servingRateLimit} blocks, so the next ` +
            `serve_axon is allowed at block ${limit.nextAllowedBlock} (~${Math.ceil(limit.secondsToWait / 60)} min from now)`,
        );
      }
      console.error(`submitting serve_axon for uid ${uid} (${plan.reason}) ...`);
      const result = await submitServeAxon(api, hotkey.pair, encoded.call, { timeoutMs: Math.max(timeoutMs, 60_000) });
      console.log(
        `serve_axon included in block ${result.blockHash}: uid ${uid} now serves ${desired.ip}:${desired.port}`,
      );
      return 0;
    } finally {
      await conn.disconnect();
    }
  },
};
