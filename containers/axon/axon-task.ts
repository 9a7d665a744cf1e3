// What the axon task runs, wired from its validated configuration and injected AWS clients (main.ts creates those and
// handles signals; tests pass none): every configured hotkey on its own port — one axon each, with its own identity,
// nonces, blacklist view and metrics — over one ModelHost and one image cache (startHotkeyFleet), one chain session
// whose metagraph watcher serves them all, the Elastic IP claimed once the axons listen with a model, then each
// hotkey announced on chain with its own port. Prediction records, captures and CloudWatch metrics when configured.
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { S3Client } from "@aws-sdk/client-s3";
import { type ChainSession, startChainSession } from "@roadwork/chain";
import { type Hotkey, loadHotkey } from "@roadwork/chain/keys";
import { ModelHost, pollModelSource, type ReloadResult, reloadOnSighup } from "@roadwork/inference";
import {
  type AxonConfigInput,
  type AxonLogger,
  type CaptureEnv,
  ChallengeCapture,
  checkFleet,
  type RunningFleet,
  S3CaptureStore,
  startHotkeyFleet,
} from "@roadwork/miner";
import { AXON_VERSION, ensureCryptoReady } from "@roadwork/protocol";
import { claimAddress } from "./address-claim.ts";
import {
  METRIC_DIMENSIONS,
  type MetricsPublisher,
  MinerMetricsSampler,
  startMetricsPublisher,
} from "./cloudwatch-metrics.ts";
import { AxonEnvError, type AxonRuntimeConfig } from "./config.ts";
import { openWhenAvailable } from "./model-wait.ts";
import { S3PredictionLog } from "./prediction-log.ts";
import { ValidatorChallengeCounter } from "./validator-challenges.ts";

export interface AxonTaskClients {
  s3?: S3Client;
  ec2?: Pick<EC2Client, "send">;
  cloudwatch?: CloudWatchClient;
}

export interface RunningAxonTask {
  /** One entry per hotkey, in configuration order: its address and the port it listens on. */
  hotkeys: { address: string; port: number; url: string }[];
  fleet: RunningFleet;
  scorer: ModelHost;
  chain: ChainSession;
  /** Every axon still listening (the heartbeat stops when one is not, and ECS replaces the task). */
  healthy(): boolean;
  close(): Promise<void>;
}

/** Loads every hotkey and checks it derives to the address its entry names; the error names the entry, not the key. */
async function loadHotkeys(config: AxonRuntimeConfig): Promise<Hotkey[]> {
  const hotkeys: Hotkey[] = [];
  for (const [i, member] of config.hotkeys.entries()) {
    const hotkey = await loadHotkey(member.source);
    if (member.expectedAddress && hotkey.address !== member.expectedAddress) {
      throw new AxonEnvError(
        `hotkey ${i + 1} of ${config.hotkeys.length} derives to ${hotkey.address}, not the configured ss58Address ` +
          `${member.expectedAddress}`,
      );
    }
    hotkeys.push(hotkey);
  }
  checkFleet(hotkeys.map((hotkey, i) => ({ hotkey, port: config.hotkeys[i]?.port as number })));
  return hotkeys;
}

export async function startAxonTask(
  config: AxonRuntimeConfig,
  options: {
    logger: AxonLogger;
    clients?: AxonTaskClients;
    captures?: CaptureEnv;
    signal?: AbortSignal;
    /** Axon settings beyond the environment's (tests: generous deadlines on a loaded machine). */
    axon?: AxonConfigInput;
  },
): Promise<RunningAxonTask> {
  const { logger, clients = {}, captures } = options;
  const { s3 } = clients;
  await ensureCryptoReady();
  const hotkeys = await loadHotkeys(config);
  for (const [i, hotkey] of hotkeys.entries()) {
    logger.info("hotkey loaded", { hotkey: hotkey.address, port: config.hotkeys[i]?.port, netuid: config.netuid });
  }

  // A ModelHost: a promotion (models/current.json rewritten) or SIGHUP swaps the model in without a restart, and a new
  // bundle that fails its checks never takes traffic. A fresh stage has no models/current.json yet: wait (healthy,
  // not listening) instead of exiting.
  const scorer = await openWhenAvailable(
    () => ModelHost.open(config.model, { executionProvider: config.executionProvider, logger, ...(s3 ? { s3 } : {}) }),
    {
      source: config.model,
      retryMs: config.modelWaitMs,
      logger,
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
  logger.info("model loaded", { version: scorer.modelVersion });
  const onReload = (result: ReloadResult) => {
    if (!result.ok) logger.error("model reload failed; the previous model keeps serving", { reason: result.reason });
    else if (result.swapped) logger.info("model swapped", { from: result.previous, to: result.version });
  };
  const modelPoll = config.modelPollMs > 0 ? pollModelSource(scorer, config.modelPollMs, onReload) : undefined;
  const stopSighup = reloadOnSighup(scorer, onReload);

  // One connection and one metagraph watcher for every hotkey; each hotkey's registration is watched on its own.
  const [first, ...more] = hotkeys as [Hotkey, ...Hotkey[]];
  const chain = await startChainSession({
    endpoint: config.chainEndpoint,
    netuid: config.netuid,
    hotkey: first.pair,
    moreHotkeys: more.map((h) => h.pair),
    logger,
  });
  chain.metagraph.on("change", (change, hotkey: string) => logger.warn("registration changed", { hotkey, change }));
  for (const hotkey of hotkeys) {
    if (chain.metagraph.uidOf(hotkey.address) === undefined) {
      logger.error("this hotkey is not registered on the subnet; validators will not query it", {
        hotkey: hotkey.address,
        netuid: config.netuid,
      });
    }
  }

  const predictionLog =
    s3 && config.predictions ? new S3PredictionLog({ s3, ...config.predictions, logger }) : undefined;
  const capture =
    s3 && captures
      ? new ChallengeCapture({
          store: new S3CaptureStore({ s3, bucket: captures.bucket, prefix: captures.prefix }),
          config: captures.config,
          logger,
        })
      : undefined;
  const challenges = new ValidatorChallengeCounter();
  let fleet: RunningFleet;
  try {
    fleet = await startHotkeyFleet({
      members: hotkeys.map((hotkey, i) => ({ hotkey, port: config.hotkeys[i]?.port as number })),
      scorer,
      metagraph: chain.metagraph,
      config: { ...options.axon, host: config.host },
      logger,
      onPrediction: (record) => {
        const finished = challenges.record(record.callerHotkey);
        if (finished) logger.info("validator challenges in the last hour", finished);
        return predictionLog?.append(record);
      },
      ...(capture ? { capture } : {}),
    });
  } catch (error) {
    // A taken port: release what keeps the process alive so it exits and ECS sees the failure.
    modelPoll?.close();
    stopSighup();
    await Promise.allSettled([chain.close(), scorer.close(), predictionLog?.close(), capture?.close(1_000)]);
    throw error;
  }
  for (const a of fleet.axons) {
    logger.info("axon ready", {
      hotkey: a.hotkey,
      external: `${config.externalIp}:${a.running.port}`,
      model: scorer.modelVersion,
    });
  }
  // Only now, with every axon listening and a model loaded, does this host take the address validators dial.
  if (config.addressClaim && clients.ec2) await claimAddress({ ec2: clients.ec2, ...config.addressClaim, logger });
  if (config.serveAxon) {
    await Promise.all(
      fleet.axons.map(async (a, i) => {
        try {
          const announcer = await chain.announce(
            { ip: config.externalIp, port: a.running.port, version: AXON_VERSION },
            { hotkey: (hotkeys[i] as Hotkey).pair },
          );
          const result = announcer.lastResult;
          logger.info("serve_axon", { hotkey: a.hotkey, action: result?.action, reason: result?.reason });
        } catch (error) {
          // The announcer retries rate limits and re-serves on registration; this is the chain refusing outright.
          logger.error("serve_axon failed; validators may not find this axon", {
            hotkey: a.hotkey,
            error: (error as Error).message,
          });
        }
      }),
    );
  }

  const several = fleet.axons.length > 1;
  const metrics: MetricsPublisher | undefined =
    config.metrics && clients.cloudwatch
      ? startMetricsPublisher({
          client: clients.cloudwatch,
          namespace: config.metrics.namespace,
          sampler: new MinerMetricsSampler(
            fleet.axons.map((a) => ({
              metrics: a.axon.metrics,
              // One hotkey: the stage's series is its series. Several: each also gets its own AnswersOk.
              ...(several ? { dimensions: { [METRIC_DIMENSIONS.axonPort]: String(a.running.port) } } : {}),
            })),
            () => chain.metagraph.ageMs(),
            { [METRIC_DIMENSIONS.stage]: config.stage },
            () => challenges.takeSinceLastSample(),
          ),
          intervalMs: config.metrics.intervalMs,
          logger,
        })
      : undefined;

  return {
    hotkeys: fleet.axons.map((a) => ({ address: a.hotkey, port: a.running.port, url: a.running.url })),
    fleet,
    scorer,
    chain,
    healthy: () => fleet.axons.every((a) => a.running.server.listening),
    async close() {
      await fleet.close(10_000);
      modelPoll?.close();
      stopSighup();
      await Promise.allSettled([
        metrics?.stop(),
        predictionLog?.close(),
        capture?.close(5_000),
        chain.close(),
        scorer.close(),
      ]);
    },
  };
}
