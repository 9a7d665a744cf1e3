// `roadwork serve-axon`: announce the axon's public address on chain (SubtensorModule.serve_axon), signed by the
// hotkey. --dry-run prints the encoded call and its decoded form without signing or submitting anything.
import { defineCommand, UsageError } from "../command.ts";
import { chainTarget, parseNetuid, parsePort, parseVersion } from "./status.ts";

export const command = defineCommand({
  name: "serve-axon",
  summary: "announce the axon's address on chain (serve_axon); --dry-run shows the call",
  usage: "--ip <public addr> --port <n> --netuid <n> [options]",
  description: `--ip is the address validators reach (e.g. the Elastic IP); it is never guessed. The hotkey comes from
ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC or ROADWORK_WALLET_NAME + ROADWORK_WALLET_HOTKEY (not needed for
--dry-run). Without --force nothing is sent when the chain already holds the same axon. --dry-run without --endpoint
(and without $ROADWORK_CHAIN_ENDPOINT) needs no node: it encodes against the subtensor runtime metadata bundled with
the repository (testnet for netuid 323, else mainnet; --network overrides) and names that runtime.`,
  options: {
    ip: { type: "string", value: "<addr>", help: "the public address validators connect to" },
    port: { type: "string", value: "<n>", help: "the axon port" },
    netuid: { type: "string", value: "<n>", help: "the subnet (72 mainnet, 323 testnet)" },
    endpoint: {
      type: "string",
      value: "<ws url>",
      help: "subtensor node (default: $ROADWORK_CHAIN_ENDPOINT, else the local node)",
    },
    "axon-version": { type: "string", value: "<x.y.z>", default: "9.12.2", help: "axon version announced" },
    "dry-run": { type: "boolean", help: "print the encoded call; sign and send nothing" },
    network: { type: "string", value: "mainnet|testnet", help: "bundled runtime for an offline --dry-run" },
    force: { type: "boolean", help: "send even when the chain already holds this axon" },
    timeout: { type: "string", value: "<s>", help: "per-call timeout (default 20)" },
  },
  async run({ values }) {
    if (!values.ip) throw new UsageError("--ip is required (the public address validators connect to)");
    if (!values.port) throw new UsageError("--port is required");
    const netuid = parseNetuid(values.netuid);
    const desired = {
      ip: values.ip,
      port: parsePort(values.port),
      version: parseVersion(values["axon-version"]),
    };
    const dryRun = values["dry-run"] === true;
    if (values.network !== undefined && values.network !== "mainnet" && values.network !== "testnet") {
      throw new UsageError("--network must be mainnet or testnet");
    }
    if (dryRun && values.endpoint === undefined && !process.env.ROADWORK_CHAIN_ENDPOINT) {
      const { serveParams } = await import("@roadwork/chain");
      const { encodeServeAxonOffline, loadOfflineRuntime } = await import("@roadwork/chain/offline-runtime");
      const params = serveParams(netuid, desired);
      const runtime = loadOfflineRuntime(values.network ?? (netuid === 323 ? "testnet" : "mainnet"));
      const encoded = encodeServeAxonOffline(runtime, params);
      console.error(
        `encoded offline against the bundled ${runtime.network} runtime (${runtime.specName} spec ${runtime.specVersion}, ` +
          `from ${runtime.source}); pass --endpoint to encode against a live node's runtime`,
      );
      console.log(
        JSON.stringify(
          {
            runtime: {
              source: runtime.source,
              network: runtime.network,
              specName: runtime.specName,
              specVersion: runtime.specVersion,
              genesisHash: runtime.genesisHash,
            },
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
    const {
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
    } = await import("@roadwork/chain");
    const { hotkeySourceFromEnv, loadHotkey } = await import("@roadwork/chain/keys");
    const params = serveParams(netuid, desired); // validates ip/port before connecting
    const { endpoint, timeoutMs } = chainTarget(values);
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
              runtime: {
                source: endpoint,
                specName: api.runtimeVersion.specName.toString(),
                specVersion: api.runtimeVersion.specVersion.toNumber(),
              },
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
});
