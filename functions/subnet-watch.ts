// Subnet watch (EventBridge, every 15 minutes): the subnet pulse from the chain (is anyone paid? burning to the owner
// uid?), GPU tasks running past their expected time, and the opt-in pause of the axon host while the subnet pays
// nobody (spec §4.7). Publishes SubnetPaying / SubnetBurning / GpuTasksOverdue (RoadworkMiner, Stage) for the alarms,
// keeps the pulse history in S3 and tells the operator when it pauses or resumes the host.
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { AutoScalingClient, UpdateAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import {
  DescribeTasksCommand,
  ECSClient,
  ListClustersCommand,
  ListTasksCommand,
  UpdateServiceCommand,
} from "@aws-sdk/client-ecs";
import { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { decidePause, PulseRecord, type SubnetPulse } from "@roadwork/chain";
import { loadHotkeyFromSecret } from "@roadwork/chain/hotkey-secret";
import { S3JsonStore } from "@roadwork/lifecycle";
import { z } from "zod";
import { parseEnv } from "./lib/env.ts";
import { logger as defaultLogger, metrics as defaultMetrics } from "./lib/powertools.ts";

export const SubnetWatchEnv = z.object({
  STAGE: z.string().min(1),
  NETUID: z.coerce.number().int().min(0).max(65535),
  CHAIN_ENDPOINT: z.string().regex(/^wss?:\/\//),
  HOTKEY_SECRET_ARN: z.string().min(1),
  STATE_BUCKET: z.string().min(3),
  STATE_KEY: z.string().min(1),
  ALERT_TOPIC_ARN: z.string().startsWith("arn:"),
  AXON_ASG: z.string().min(1),
  AXON_CLUSTER: z.string().min(1),
  AXON_SERVICE: z.string().min(1),
  /** Absent or empty: never pause. */
  PAUSE_AFTER_DAYS: z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().positive().optional()),
  TRAINER_MAX_HOURS: z.coerce.number().positive(),
  GENERATOR_MAX_HOURS: z.coerce.number().positive(),
});
export type SubnetWatchEnv = z.infer<typeof SubnetWatchEnv>;

export interface SubnetWatchDeps {
  env: SubnetWatchEnv;
  s3: S3Client;
  ecs: ECSClient;
  autoscaling: AutoScalingClient;
  sns: SNSClient;
  /** The pulse for the miner's hotkey (a chain read; injected so the watch runs against any node). */
  readPulse: () => Promise<SubnetPulse>;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
}

/** Which GPU task families are watched and how long each may run. */
export function overdueLimitHours(family: string, env: SubnetWatchEnv): number | undefined {
  if (/trainer|train/.test(family)) return env.TRAINER_MAX_HOURS;
  if (/generator|cosmos|synth/.test(family)) return env.GENERATOR_MAX_HOURS;
  return undefined;
}

async function overdueGpuTasks(deps: SubnetWatchDeps): Promise<{ arn: string; family: string; hours: number }[]> {
  const { env, ecs } = deps;
  const clusters = (await ecs.send(new ListClustersCommand({}))).clusterArns ?? [];
  const mine = clusters.filter((arn) => arn.split("/").pop()?.startsWith(`roadwork-${env.STAGE}`));
  const overdue: { arn: string; family: string; hours: number }[] = [];
  for (const cluster of mine) {
    const taskArns = (await ecs.send(new ListTasksCommand({ cluster, desiredStatus: "RUNNING" }))).taskArns ?? [];
    for (let i = 0; i < taskArns.length; i += 100) {
      const { tasks = [] } = await ecs.send(new DescribeTasksCommand({ cluster, tasks: taskArns.slice(i, i + 100) }));
      for (const t of tasks) {
        const family = t.taskDefinitionArn?.split("/").pop()?.split(":")[0] ?? "";
        const limit = overdueLimitHours(family, env);
        if (limit === undefined || !t.startedAt) continue;
        const hours = (deps.now() - t.startedAt.getTime()) / 3_600_000;
        if (hours > limit) overdue.push({ arn: t.taskArn ?? "", family, hours });
      }
    }
  }
  return overdue;
}

async function scaleAxon(deps: SubnetWatchDeps, running: boolean): Promise<void> {
  const n = running ? 1 : 0;
  await deps.autoscaling.send(
    new UpdateAutoScalingGroupCommand({
      AutoScalingGroupName: deps.env.AXON_ASG,
      MinSize: n,
      MaxSize: 1,
      DesiredCapacity: n,
    }),
  );
  await deps.ecs.send(
    new UpdateServiceCommand({ cluster: deps.env.AXON_CLUSTER, service: deps.env.AXON_SERVICE, desiredCount: n }),
  );
}

export async function runSubnetWatch(
  deps: SubnetWatchDeps,
): Promise<{ pulse: SubnetPulse; action: string; overdue: { arn: string; family: string; hours: number }[] }> {
  const { env, logger, metrics } = deps;

  const overdue = await overdueGpuTasks(deps).catch((error: Error) => {
    logger.error("GPU task sweep failed", { error: error.message });
    return [];
  });
  metrics.addMetric("GpuTasksOverdue", MetricUnit.Count, overdue.length);
  for (const t of overdue) logger.warn("GPU task overdue", { ...t });

  const pulse = await deps.readPulse();
  logger.info("subnet pulse", { state: pulse.state, line: pulse.line, ownerWeightShare: pulse.ownerWeightShare });
  metrics.addMetric("SubnetPaying", MetricUnit.Count, pulse.state === "paying" ? 1 : 0);
  metrics.addMetric("SubnetBurning", MetricUnit.Count, pulse.state === "burning" ? 1 : 0);

  const store = new S3JsonStore(deps.s3, env.STATE_BUCKET);
  const previous = await store.read(env.STATE_KEY, PulseRecord);
  const decision = decidePause({
    previous: previous?.value,
    state: pulse.state,
    now: deps.now(),
    pauseAfterDays: env.PAUSE_AFTER_DAYS,
  });
  if (decision.action !== "none") {
    await scaleAxon(deps, decision.action === "resume");
    await deps.sns.send(
      new PublishCommand({
        TopicArn: env.ALERT_TOPIC_ARN,
        Subject: `[roadwork ${env.STAGE}] axon host ${decision.action === "pause" ? "paused" : "resumed"}`,
        Message: `${decision.reason}.\n${pulse.line}\n${
          decision.action === "pause" ? `Bring it back any time: roadwork resume --stage ${env.STAGE}` : ""
        }`,
      }),
    );
    logger.warn(`axon host ${decision.action}d`, { reason: decision.reason });
  }
  await store.write(env.STATE_KEY, decision.record, previous?.etag ?? undefined);
  return { pulse, action: decision.action, overdue };
}

let deps: SubnetWatchDeps | undefined;
function depsFromEnv(): SubnetWatchDeps {
  const env = parseEnv(SubnetWatchEnv, process.env, "subnet-watch");
  const secrets = new SecretsManagerClient({});
  return {
    env,
    s3: new S3Client({}),
    ecs: new ECSClient({}),
    autoscaling: new AutoScalingClient({}),
    sns: new SNSClient({}),
    async readPulse() {
      const { connectSubtensor, readSubnetPulse } = await import("@roadwork/chain");
      const hotkey = await loadHotkeyFromSecret(secrets, env.HOTKEY_SECRET_ARN);
      const conn = await connectSubtensor({ endpoint: env.CHAIN_ENDPOINT });
      try {
        return await readSubnetPulse(conn.api, { netuid: env.NETUID, hotkey: hotkey.address });
      } finally {
        await conn.disconnect();
      }
    },
    now: () => Date.now(),
    logger: defaultLogger,
    metrics: withStage(defaultMetrics, env.STAGE),
  };
}

/** The alarms watch these metrics by Stage (stacks/Alarms.ts), set once per cold start. */
export function withStage(metrics: Metrics, stage: string): Metrics {
  metrics.setDefaultDimensions({ Stage: stage });
  return metrics;
}

export async function handler(): Promise<{ state: string; action: string }> {
  deps ??= depsFromEnv();
  try {
    const { pulse, action } = await runSubnetWatch(deps);
    return { state: pulse.state, action };
  } finally {
    deps.metrics.publishStoredMetrics();
  }
}
