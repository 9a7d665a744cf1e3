// Composition root of the axon container (ECS task, stacks/Miner.ts): read and validate the environment, create the
// AWS clients, and start the axon task (containers/axon/axon-task.ts: every configured hotkey on its own port over one
// model, announced on chain); stop it on SIGTERM. Fails fast, with a message that says what to fix.
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { S3Client } from "@aws-sdk/client-s3";
import { captureEnv, createJsonLogger } from "@roadwork/miner";
import { type RunningAxonTask, startAxonTask } from "./axon-task.ts";
import { AxonEnvError, parseAxonEnv } from "./config.ts";
import { startHeartbeat } from "./heartbeat.ts";

async function main(): Promise<void> {
  const config = parseAxonEnv(process.env);
  const captures = captureEnv(process.env); // ROADWORK_CAPTURE_*: challenge images to S3 for the flywheel
  const logger = createJsonLogger({ level: config.logLevel, base: { component: "axon", stage: config.stage } });
  let task: RunningAxonTask | undefined;
  // Alive while waiting for a first model; once serving, only while every hotkey's axon still listens.
  const stopHeartbeat = startHeartbeat(
    config.heartbeatFile,
    15_000,
    (error) => logger.error("cannot write the heartbeat file; the health check will fail", { error: error.message }),
    () => task?.healthy() ?? true,
  );

  const region = config.region;
  const needsEc2 = config.addressClaim && region;
  task = await startAxonTask(config, {
    logger,
    ...(captures ? { captures } : {}),
    clients: {
      ...(region ? { s3: new S3Client({ region }) } : {}),
      ...(region && config.metrics ? { cloudwatch: new CloudWatchClient({ region }) } : {}),
      ...(needsEc2 ? { ec2: new (await import("@aws-sdk/client-ec2")).EC2Client({ region }) } : {}),
    },
  });

  // ECS sends SIGTERM on deploys, scale-in and spot draining, then SIGKILL after the task's stopTimeout (30 s).
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  logger.info("shutting down", { signal });
  await task.close();
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
