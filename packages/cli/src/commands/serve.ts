// `roadwork serve`: the axon on this machine, from a local model and a metagraph snapshot file (composition root).
import { createWriteStream, statSync, type WriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { Hotkey, HotkeySource } from "@roadwork/chain/keys";
import type { MetagraphSnapshot } from "@roadwork/chain/snapshot";
import type { AxonLogger, LogLevel, PredictionSink } from "@roadwork/miner";
import { defineCommand, UsageError } from "../command.ts";

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

export const command = defineCommand({
  name: "serve",
  summary: "run the axon on a local model and a metagraph snapshot file",
  usage: "--model <file.onnx|bundle dir> (--metagraph <snapshot.json> | --chain <ws> --netuid <n>) [options]",
  description: `The hotkey comes from --wallet/--hotkey, else ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC or
ROADWORK_WALLET_NAME + ROADWORK_WALLET_HOTKEY. 'roadwork snapshot' writes a metagraph snapshot (from the chain, or a
local one with the keys to use). SIGHUP reloads the snapshot file and the model; a rewritten manifest.json or pointer
file swaps the model in without a restart (the old one keeps serving if the new one fails its checks).
SIGINT/SIGTERM stop gracefully. A port that is taken ends the command at once with exit code 1.`,
  options: {
    model: { type: "string", value: "<source>", help: "bundle dir, .onnx, pointer .json, s3:// or hf:// source" },
    metagraph: { type: "string", value: "<snapshot.json>", help: "metagraph snapshot file (see 'roadwork snapshot')" },
    port: { type: "string", value: "<n>", help: "listen port (default 8091)" },
    host: { type: "string", value: "<addr>", help: "listen address (default ::)" },
    wallet: { type: "string", value: "<dir|name>", help: "bittensor wallet directory or name" },
    hotkey: { type: "string", value: "<name>", help: "hotkey name inside --wallet (default: default)" },
    "also-hotkey": {
      type: "string",
      multiple: true,
      value: "<name>",
      help: "serve another hotkey of --wallet on the next port (--port + 1, + 2, …): one process, one model and image cache, one axon per hotkey",
    },
    "admin-port": { type: "string", value: "<n>", help: "loopback admin listener (/metrics, /healthz)" },
    config: { type: "string", value: "<axon.json>", help: "axon configuration file" },
    predictions: { type: "string", value: "<records.jsonl>", help: "append prediction records here" },
    "log-level": { type: "string", value: "<level>", default: "info", help: "debug, info, warn or error" },
    chain: { type: "string", value: "<ws endpoint>", help: "read the metagraph from subtensor instead of a file" },
    netuid: { type: "string", value: "<n>", help: "subnet with --chain (72 mainnet, 323 testnet)" },
    "external-ip": {
      type: "string",
      value: "<addr>",
      help: "announce this address on chain, each hotkey with its own port (needs --chain)",
    },
    capture: {
      type: "string",
      value: "<data dir>",
      help: "keep challenge images near the threshold (and a sample of the rest) under <data dir>/captures/",
    },
    "capture-band": { type: "string", value: "<w>", help: "with --capture: keep all with |score-0.5| <= w (0.15)" },
    "capture-rate": { type: "string", value: "<p>", help: "with --capture: fraction of the rest kept (0.03)" },
  },
  async run({ values }) {
    if (!values.model) throw new UsageError("--model is required");
    if (!values.metagraph && !values.chain) {
      throw new UsageError(
        "--metagraph or --chain is required ('roadwork snapshot --local --out snapshot.json' writes one; docs/chain.md)",
      );
    }
    if (values["external-ip"] && !values.chain)
      throw new Error("--external-ip needs --chain (it is announced on chain)");
    const extraHotkeys = values["also-hotkey"] ?? [];
    if (extraHotkeys.length > 0 && !values.wallet) throw new UsageError("--also-hotkey needs --wallet <dir|name>");
    const level = values["log-level"] as LogLevel;
    if (!LEVELS.includes(level)) throw new Error(`--log-level must be one of ${LEVELS.join(", ")}`);

    // Configuration first: a typo fails before anything slow is loaded.
    const {
      ChallengeCapture,
      createJsonLogger,
      LocalCaptureStore,
      parseAxonConfig,
      SwappableMetagraph,
      startHotkeyFleet,
    } = await import("@roadwork/miner");
    const fileConfig = values.config ? await readJson(values.config, "--config") : {};
    const config = parseAxonConfig({
      ...(fileConfig as object),
      ...(values.port !== undefined ? { port: portNumber(values.port, "--port") } : {}),
      ...(values.host !== undefined ? { host: values.host } : {}),
      ...(values["admin-port"] !== undefined
        ? {
            admin: {
              ...((fileConfig as { admin?: object }).admin ?? {}),
              port: portNumber(values["admin-port"], "--admin-port"),
            },
          }
        : {}),
    });
    const logger = createJsonLogger({ level, base: { component: "axon" } });
    // Challenge capture for the flywheel (docs/labelling.md); its settings are checked here, before anything slow.
    const capture = values.capture
      ? new ChallengeCapture({
          store: new LocalCaptureStore(values.capture),
          config: {
            ...(values["capture-band"] ? { band: Number(values["capture-band"]) } : {}),
            ...(values["capture-rate"] ? { sampleRate: Number(values["capture-rate"]) } : {}),
          },
          logger,
        })
      : undefined;

    const { ensureCryptoReady } = await import("@roadwork/protocol");
    const { hotkeySourceFromEnv, loadHotkey } = await import("@roadwork/chain/keys");
    const { MetagraphSnapshot } = await import("@roadwork/chain/snapshot");
    const { ModelHost, watchModelSource } = await import("@roadwork/inference");
    await ensureCryptoReady();
    const hotkey = await loadHotkey(hotkeySource(values.wallet, values.hotkey, hotkeySourceFromEnv));
    const extras: Hotkey[] = [];
    for (const name of extraHotkeys)
      extras.push(await loadHotkey(hotkeySource(values.wallet, name, hotkeySourceFromEnv)));
    // --chain: snapshots come from subtensor (refreshed every 90 s; the last good one stays when a refresh fails).
    const chain = values.chain ? await openChain(values.chain, values.netuid, [hotkey, ...extras], logger) : undefined;
    const snapshot = chain ? chain.metagraph.current() : await MetagraphSnapshot.load(values.metagraph!);
    const metagraph = new SwappableMetagraph(snapshot);
    chain?.metagraph.on("snapshot", (next: MetagraphSnapshot) => metagraph.replace(next));
    if (!snapshot.neuron(hotkey.address)) {
      logger.warn("this hotkey is not in the metagraph snapshot; validators will not find this axon", {
        hotkey: hotkey.address,
        netuid: snapshot.netuid,
      });
    }
    // A ModelHost, so a new bundle (manifest or pointer file rewritten, or SIGHUP) swaps in without a restart.
    const scorer = await ModelHost.open(values.model, { logger }).catch(async (error: Error) => {
      await chain?.close(); // an open chain socket would keep the process alive
      throw error;
    });
    const modelWatch = modelWatchPath(values.model);
    const watching = modelWatch ? watchModelSource(scorer, modelWatch) : undefined;

    let records: WriteStream | undefined;
    let onPrediction: PredictionSink | undefined;
    if (values.predictions) {
      records = createWriteStream(values.predictions, { flags: "a" });
      records.on("error", (error) => logger.error("cannot write prediction records", { error }));
      const out = records;
      onPrediction = (record) => {
        out.write(`${JSON.stringify(record)}\n`);
      };
    }

    // One axon per hotkey (own identity, nonces, blacklist, metrics) over the one ModelHost: its image-hash cache
    // answers the copies of a challenge a validator sends to several of these hotkeys.
    const portOf = (i: number) => (config.port === 0 ? 0 : config.port + i);
    let fleet: Awaited<ReturnType<typeof startHotkeyFleet>>;
    try {
      fleet = await startHotkeyFleet({
        members: [hotkey, ...extras].map((h, i) => ({ hotkey: h, port: portOf(i) })),
        scorer,
        metagraph,
        config,
        logger,
        ...(onPrediction ? { onPrediction } : {}),
        ...(capture ? { capture } : {}),
      });
    } catch (error) {
      // Everything that keeps the event loop alive goes, so the process exits and its supervisor sees the failure.
      watching?.close();
      records?.end();
      await scorer.close();
      await chain?.close();
      throw error;
    }
    const validators = snapshot.data.neurons.filter((n) => n.validatorPermit).length;
    for (const a of fleet.axons) {
      console.log(
        `roadwork axon ready hotkey=${a.hotkey} address=${a.running.url} model=${scorer.modelVersion} validators=${validators}`,
      );
      if (a.running.adminUrl) logger.info("admin listener ready", { metrics: `${a.running.adminUrl}/metrics` });
    }
    // serve_axon only once the axons listen, each hotkey with its own port; skipped when the chain already holds it.
    const externalIp = values["external-ip"];
    if (chain && externalIp) {
      const keys = [hotkey, ...extras];
      await Promise.all(
        fleet.axons.map((a, i) =>
          chain
            .announce({ ip: externalIp, port: a.running.port, version: 9_012_002 }, { hotkey: keys[i]!.pair })
            .catch((error: Error) => {
              logger.error("cannot announce the axon on chain", { hotkey: a.hotkey, error: error.message });
            }),
        ),
      );
    }

    const reload = () => {
      void scorer.reload().then((result) => logger.info("model reload", { ...result }));
      if (chain) {
        void chain.metagraph.refresh();
        return;
      }
      MetagraphSnapshot.load(values.metagraph!).then(
        (next) => {
          metagraph.replace(next);
          logger.info("metagraph snapshot reloaded", { block: next.block, neurons: next.size });
        },
        (error: Error) => logger.error("metagraph reload failed; keeping the last good snapshot", { error }),
      );
    };
    process.on("SIGHUP", reload);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once("SIGINT", () => resolve("SIGINT"));
      process.once("SIGTERM", () => resolve("SIGTERM"));
    });
    process.off("SIGHUP", reload);
    watching?.close();
    logger.info("shutting down", { signal });
    await fleet.close(10_000);
    await capture?.close();
    if (capture) {
      const c = capture.stats;
      console.log(`captures: ${c.written} kept in ${capture.where}, ${c.dropped} dropped, ${c.failed} failed`);
    }
    await chain?.close();
    await scorer.close();
    if (records) await new Promise<void>((resolve) => records.end(resolve));
    logger.info("stopped");
    return 0;
  },
});

/** --wallet names a wallet directory (".../wallets/<name>") or just a wallet name under ~/.bittensor/wallets. */
function hotkeySource(
  wallet: string | undefined,
  hotkeyName: string | undefined,
  fromEnv: (env: NodeJS.ProcessEnv) => HotkeySource,
): HotkeySource {
  if (wallet === undefined && hotkeyName === undefined) return fromEnv(process.env);
  if (wallet === undefined) throw new Error("--hotkey needs --wallet <wallet dir|name>");
  const isPath = wallet.includes("/");
  const trimmed = wallet.replace(/\/+$/, "");
  return {
    ...(isPath ? { walletPath: dirname(trimmed), walletName: basename(trimmed) } : { walletName: wallet }),
    hotkeyName: hotkeyName ?? "default",
  };
}

function portNumber(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new Error(`${flag} must be a port number 0-65535, got '${text}'`);
  return n;
}

async function readJson(path: string, flag: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new Error(`${flag}: cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${flag}: ${path} is not JSON: ${(error as Error).message}`);
  }
}

/** The file whose rewrite means "a new model": a bundle's manifest.json, or the pointer/.onnx file itself. */
function modelWatchPath(model: string): string | undefined {
  if (/^[a-z0-9]+:\/\//i.test(model)) return undefined; // s3:// and hf:// sources are reloaded by SIGHUP
  try {
    return statSync(model).isDirectory() ? `${model.replace(/\/+$/, "")}/manifest.json` : model;
  } catch {
    return undefined;
  }
}

/**
 * --chain: connection, one metagraph watcher following every hotkey's registration, and a serve_axon announcer per
 * hotkey (loaded only when asked for: @polkadot/api is heavy).
 */
async function openChain(endpoint: string, netuid: string | undefined, hotkeys: Hotkey[], logger: AxonLogger) {
  if (netuid === undefined || !/^\d+$/.test(netuid) || Number(netuid) > 65535) {
    throw new Error("--chain needs --netuid <n> (72 on mainnet, 323 on testnet)");
  }
  const { startChainSession } = await import("@roadwork/chain");
  const [first, ...more] = hotkeys as [Hotkey, ...Hotkey[]];
  return startChainSession({
    endpoint,
    netuid: Number(netuid),
    hotkey: first.pair,
    moreHotkeys: more.map((h) => h.pair),
    logger,
  });
}
