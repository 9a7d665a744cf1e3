// Composition root of the axon container (ECS task, stacks/Miner.ts): read and validate the environment, then wire
// hotkey -> scorer -> chain watcher -> axon, plus the AWS side effects (prediction records to S3, CloudWatch metrics,
// serve_axon when the chain's record of our address is wrong). Fails fast, with a message that says what to fix.
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { S3Client } from "@aws-sdk/client-s3";
import { connectSubtensor, ensureServing, MetagraphWatcher, type SubtensorConnection } from "@roadwork/chain";
import { type Hotkey, loadHotkey } from "@roadwork/chain/keys";
import { ModelHost, pollModelSource, type ReloadResult, reloadOnSighup } from "@roadwork/inference";
import {
  type AxonLogger,
  ChallengeCapture,
  captureEnv,
  createAxon,
  createJsonLogger,
  S3CaptureStore,
  startAxon,
} from "@roadwork/miner";
import { AXON_VERSION, ensureCryptoReady } from "@roadwork/protocol";
import { claimAddress } from "./address-claim.ts";
import { MinerMetricsSampler, startMetricsPublisher } from "./cloudwatch-metrics.ts";
import { AxonEnvError, type AxonRuntimeConfig, parseAxonEnv } from "./config.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { openWhenAvailable } from "./model-wait.ts";
import { S3PredictionLog } from "./prediction-log.ts";
import { ValidatorChallengeCounter } from "./validator-challenges.ts";

async function announce(
  config: AxonRuntimeConfig,
  connection: SubtensorConnection,
  hotkey: Hotkey,
  logger: AxonLogger,
): Promise<void> {
  if (!config.serveAxon) return;
  try {
    const result = await ensureServing({
      api: connection.api,
      netuid: config.netuid,
      hotkey: hotkey.pair,
      desired: { ip: config.externalIp, port: config.port, version: AXON_VERSION },
      logger,
    });
    logger.info("serve_axon", { action: result.action, reason: result.reason });
  } catch (error) {
    // Not registered yet, or the chain refused: keep answering; the watcher retries on registration.
    logger.error("serve_axon failed; validators may not find this axon", { error: (error as Error).message });
  }
}

async function main(): Promise<void> {
  const config = parseAxonEnv(process.env);
  const captures = captureEnv(process.env); // ROADWORK_CAPTURE_*: challenge images to S3 for the flywheel
  const logger = createJsonLogger({ level: config.logLevel, base: { component: "axon", stage: config.stage } });
  const stopHeartbeat = startHeartbeat(config.heartbeatFile, 15_000, (error) =>
    logger.error("cannot write the heartbeat file; the health check will fail", { error: error.message }),
  );

  await ensureCryptoReady();
  const hotkey = await loadHotkey(config.hotkey);
  if (config.expectedHotkeyAddress && hotkey.address !== config.expectedHotkeyAddress) {
    throw new AxonEnvError(
      `the configured hotkey derives to ${hotkey.address}, not ROADWORK_HOTKEY_ADDRESS ${config.expectedHotkeyAddress}`,
    );
  }
  logger.info("hotkey loaded", { hotkey: hotkey.address, netuid: config.netuid });

  const s3 = config.region ? new S3Client({ region: config.region }) : undefined;
  // A ModelHost: a promotion (models/current.json rewritten) or SIGHUP swaps the model in without a restart,
  // and a new bundle that fails its checks never takes traffic.
  // A fresh stage has no models/current.json yet: wait (healthy, not listening) instead of exiting.
  const scorer = await openWhenAvailable(
    () => ModelHost.open(config.model, { executionProvider: config.executionProvider, logger, ...(s3 ? { s3 } : {}) }),
    { source: config.model, retryMs: config.modelWaitMs, logger },
  );
  logger.info("model loaded", { version: scorer.modelVersion });
  const onReload = (result: ReloadResult) => {
    if (!result.ok) logger.error("model reload failed; the previous model keeps serving", { reason: result.reason });
    else if (result.swapped) logger.info("model swapped", { from: result.previous, to: result.version });
  };
  const modelPoll = config.modelPollMs > 0 ? pollModelSource(scorer, config.modelPollMs, onReload) : undefined;
  const stopSighup = reloadOnSighup(scorer, onReload);

  const connection = await connectSubtensor({ endpoint: config.chainEndpoint, logger });
  const watcher = await MetagraphWatcher.start({
    api: connection.api,
    netuid: config.netuid,
    hotkey: hotkey.address,
    logger,
    onChange: (change) => {
      logger.warn("registration changed", { change });
      if (change.kind === "registered" || change.kind === "reregistered") {
        void announce(config, connection, hotkey, logger);
      }
    },
  });
  if (!watcher.registered) {
    logger.error("this hotkey is not registered on the subnet; validators will not query it", {
      hotkey: hotkey.address,
      netuid: config.netuid,
    });
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
  const axon = createAxon({
    hotkey,
    scorer,
    metagraph: watcher,
    config: { port: config.port, host: config.host },
    logger,
    onPrediction: (record) => {
      const finished = challenges.record(record.callerHotkey);
      if (finished) logger.info("validator challenges in the last hour", finished);
      return predictionLog?.append(record);
    },
    ...(capture ? { capture } : {}),
  });
  const running = await startAxon(axon);
  logger.info("axon ready", {
    hotkey: hotkey.address,
    external: `${config.externalIp}:${config.port}`,
    model: scorer.modelVersion,
  });
  // Only now, listening with a model loaded, does this host take the address validators dial.
  if (config.addressClaim && config.region) {
    const { EC2Client } = await import("@aws-sdk/client-ec2");
    await claimAddress({ ec2: new EC2Client({ region: config.region }), ...config.addressClaim, logger });
  }
  await announce(config, connection, hotkey, logger);

  const metrics =
    config.metrics && config.region
      ? startMetricsPublisher({
          client: new CloudWatchClient({ region: config.region }),
          namespace: config.metrics.namespace,
          sampler: new MinerMetricsSampler(
            axon.metrics,
            () => watcher.ageMs(),
            { Stage: config.stage },
            () => challenges.takeSinceLastSample(),
          ),
          intervalMs: config.metrics.intervalMs,
          logger,
        })
      : undefined;

  // ECS sends SIGTERM on deploys, scale-in and spot draining, then SIGKILL after the task's stopTimeout (30 s).
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  logger.info("shutting down", { signal });
  await running.close(10_000);
  modelPoll?.close();
  stopSighup();
  watcher.stop();
  await Promise.allSettled([
    metrics?.stop(),
    predictionLog?.close(),
    capture?.close(5_000),
    connection.disconnect(),
    scorer.close(),
  ]);
  stopHeartbeat();
  logger.info("stopped");
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    // Configuration and hotkey errors carry their own instructions and no secret material.
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    process.stderr.write(`roadwork axon failed to start: ${message}\n`);
    process.exit(error instanceof AxonEnvError ? 2 : 1);
  },
);
