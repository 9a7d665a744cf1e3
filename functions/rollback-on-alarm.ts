// The axon's answer-rate or error alarm went to ALARM (EventBridge "CloudWatch Alarm State Change"): when that happens
// within the window after a promotion, restore the previous model pointer (@roadwork/pipeline rollbackOnAlarm, the
// same atomic write as `roadwork model rollback`), notify the operator, and record the decision in the pipeline store.
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import {
  AUTO_ROLLBACK_WINDOW_MINUTES,
  type RollbackDecision,
  rollbackOnAlarm,
  S3PointerStore,
  S3Store,
} from "@roadwork/pipeline/watchers";
import { z } from "zod";
import { parseEnv } from "./lib/env.ts";
import { logger as defaultLogger, metrics as defaultMetrics, scheduledHandler, tracer } from "./lib/powertools.ts";

export const RollbackEnv = z.object({
  MODELS_BUCKET: z.string().min(3),
  STORE_PREFIX: z.string().default("models/pipeline/"),
  POINTER_KEY: z.string().default("models/current.json"),
  ALERT_TOPIC_ARN: z.string().startsWith("arn:"),
  ROLLBACK_WINDOW_MINUTES: z.coerce
    .number()
    .positive()
    .max(7 * 24 * 60)
    .default(AUTO_ROLLBACK_WINDOW_MINUTES),
  STAGE: z.string().default("dev"),
});
export type RollbackEnv = z.infer<typeof RollbackEnv>;

/** The part of the EventBridge event this function reads. CloudWatch writes `+0000` offsets, hence Date parsing. */
export const AlarmStateChange = z.object({
  "detail-type": z.literal("CloudWatch Alarm State Change"),
  time: z.string(),
  detail: z.object({
    alarmName: z.string().min(1),
    state: z.object({ value: z.string(), reason: z.string().default(""), timestamp: z.string().optional() }),
  }),
});

export interface RollbackDeps {
  s3: S3Client;
  sns: SNSClient;
  env: RollbackEnv;
  logger: Logger;
  metrics: Metrics;
  now: () => Date;
}

export type RollbackResult = { outcome: "not-alarm"; state: string } | (RollbackDecision & { repeated: boolean });

function alarmTime(event: z.infer<typeof AlarmStateChange>): string {
  for (const t of [event.detail.state.timestamp, event.time]) {
    const ms = t ? Date.parse(t) : Number.NaN;
    if (Number.isFinite(ms)) return new Date(ms).toISOString();
  }
  throw new Error(`alarm event for ${event.detail.alarmName} carries no readable time`);
}

export async function handleAlarm(deps: RollbackDeps, raw: unknown): Promise<RollbackResult> {
  const parsed = AlarmStateChange.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `not a CloudWatch alarm state change: ${parsed.error.issues[0]?.message}; check the rule's pattern`,
    );
  }
  const event = parsed.data;
  const { env, logger, metrics } = deps;
  if (event.detail.state.value !== "ALARM") {
    logger.info("alarm not in ALARM; nothing to do", {
      alarm: event.detail.alarmName,
      state: event.detail.state.value,
    });
    return { outcome: "not-alarm", state: event.detail.state.value };
  }
  const decision = await rollbackOnAlarm(
    { alarmName: event.detail.alarmName, at: alarmTime(event), reason: event.detail.state.reason },
    {
      pointer: new S3PointerStore(deps.s3, env.MODELS_BUCKET, env.POINTER_KEY),
      decisions: new S3Store(deps.s3, env.MODELS_BUCKET, env.STORE_PREFIX),
      windowMinutes: env.ROLLBACK_WINDOW_MINUTES,
      now: deps.now,
    },
  );
  logger.info("automatic rollback decision", { ...decision });
  // Nothing was written: fail, so EventBridge's retry judges the pointer as it is now.
  if (decision.outcome === "conflict") throw new Error(decision.detail);
  if (decision.repeated) return decision;
  metrics.addMetric(decision.outcome === "rolled-back" ? "AutoRollbacks" : "AutoRollbackSkipped", MetricUnit.Count, 1);
  const subject =
    decision.outcome === "rolled-back"
      ? `model rolled back ${decision.serving} → ${decision.restored}`
      : decision.outcome === "no-previous"
        ? `cannot roll back ${decision.serving}: no previous model`
        : undefined;
  if (subject) {
    if (decision.outcome !== "rolled-back")
      logger.error("automatic rollback not possible", { detail: decision.detail });
    await deps.sns.send(
      new PublishCommand({
        TopicArn: env.ALERT_TOPIC_ARN,
        Subject: `[roadwork ${env.STAGE}] ${subject}`.slice(0, 100),
        Message: [
          `Alarm ${decision.alarm.alarmName} entered ALARM at ${decision.alarm.at}: ${decision.alarm.reason}`,
          decision.detail,
          `Window: ${decision.windowMinutes} min after a promotion. Decision recorded in s3://${env.MODELS_BUCKET}/${env.STORE_PREFIX}rollbacks/.`,
          decision.outcome === "rolled-back"
            ? "The axon swaps the restored model in on its next pointer poll. Check with 'roadwork model show --stage <stage>'."
            : "Nothing was changed. Roll back by hand with 'roadwork model rollback --stage <stage>' if needed.",
        ].join("\n"),
      }),
    );
  }
  return decision;
}

export function createRollbackHandler(resolveDeps: () => RollbackDeps) {
  return scheduledHandler(resolveDeps, handleAlarm);
}

let deps: RollbackDeps | undefined;
export const handler = createRollbackHandler(() => {
  deps ??= {
    s3: tracer.captureAWSv3Client(new S3Client({})),
    sns: tracer.captureAWSv3Client(new SNSClient({})),
    env: parseEnv(RollbackEnv, process.env, "rollback-on-alarm"),
    logger: defaultLogger,
    metrics: defaultMetrics,
    now: () => new Date(),
  };
  return deps;
});
