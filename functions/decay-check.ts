// Daily decay check (EventBridge schedule): reads the submitted-model record, computes the reward decay status,
// publishes each newly crossed alert once to SNS, emits DaysUntilDecay, and enqueues one retrain request per
// submission when the retrain lead time is reached. Sent alerts live in S3 beside the record, written conditionally.
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
  AlertLedger,
  alertLedgerKey,
  ConditionalWriteError,
  type DecayAlert,
  DecayPolicy,
  type DecayStatus,
  MODEL_RECORD_KEY,
  ModelRecord,
  type RetrainRequest,
  S3JsonStore,
} from "@roadwork/lifecycle";
import type { Context } from "aws-lambda";
import { z } from "zod";
import { parseEnv } from "./lib/env.ts";
import { logger as defaultLogger, metrics as defaultMetrics, tracer } from "./lib/powertools.ts";

const DAY_MS = 86_400_000;

export const DecayCheckEnv = z.object({
  MODELS_BUCKET: z.string().min(3),
  MODEL_RECORD_KEY: z.string().min(1).default(MODEL_RECORD_KEY),
  ALERT_TOPIC_ARN: z.string().startsWith("arn:"),
  RETRAIN_QUEUE_URL: z.url(),
  STAGE: z.string().default("dev"),
  FULL_REWARD_DAYS: z.coerce.number().positive().optional(),
  ZERO_REWARD_DAYS: z.coerce.number().positive().optional(),
  RETRAIN_LEAD_DAYS: z.coerce.number().nonnegative().optional(),
});
export type DecayCheckEnv = z.infer<typeof DecayCheckEnv>;

export interface DecayCheckDeps {
  s3: S3Client;
  sns: SNSClient;
  sqs: SQSClient;
  env: DecayCheckEnv;
  policy: DecayPolicy;
  now: () => Date;
  logger: Logger;
  metrics: Metrics;
}

export type DecayCheckResult =
  | { outcome: "no-record" }
  | { outcome: "concurrent-run" }
  | {
      outcome: "checked";
      status: DecayStatus;
      version: string;
      alertsSent: string[];
      retrainRequested: boolean;
    };

export function policyFromEnv(env: DecayCheckEnv): DecayPolicy {
  return new DecayPolicy({
    ...(env.FULL_REWARD_DAYS !== undefined && { fullRewardDays: env.FULL_REWARD_DAYS }),
    ...(env.ZERO_REWARD_DAYS !== undefined && { zeroRewardDays: env.ZERO_REWARD_DAYS }),
    ...(env.RETRAIN_LEAD_DAYS !== undefined && { retrainLeadDays: env.RETRAIN_LEAD_DAYS }),
  });
}

export async function runDecayCheck(deps: DecayCheckDeps): Promise<DecayCheckResult> {
  const { env, policy, logger, metrics } = deps;
  const store = new S3JsonStore(deps.s3, env.MODELS_BUCKET);
  const stored = await store.read(env.MODEL_RECORD_KEY, ModelRecord);
  if (!stored) {
    logger.warn("no submitted model record yet; nothing to check", { key: env.MODEL_RECORD_KEY });
    return { outcome: "no-record" };
  }
  const record = stored.value;
  const now = deps.now();
  const status = policy.status(record.submissionTime, now);
  metrics.addMetric("DaysUntilDecay", MetricUnit.NoUnit, round(status.daysUntilDecay));
  metrics.addMetric("RewardFactor", MetricUnit.NoUnit, round(status.rewardFactor));
  logger.info("decay status", { version: record.version, ...status, next: policy.nextAlert(status)?.alert.id });

  const ledgerKey = alertLedgerKey(record.submissionTime, env.MODEL_RECORD_KEY);
  const ledger = (await store.read(ledgerKey, AlertLedger)) ?? {
    value: { submissionTime: record.submissionTime, sent: [] },
    etag: undefined,
  };
  const due = policy.dueAlerts(
    status,
    ledger.value.sent.map((s) => s.id),
  );
  const retrain = policy.shouldRetrain(status) && !ledger.value.retrainRequestedAt;
  if (due.length === 0 && !retrain) {
    return { outcome: "checked", status, version: record.version, alertsSent: [], retrainRequested: false };
  }

  // Claim first (conditional write), then send: a concurrent or repeated run loses the claim and sends nothing.
  const at = now.toISOString();
  const claimed: AlertLedger = {
    submissionTime: record.submissionTime,
    sent: [...ledger.value.sent, ...due.map((a) => ({ id: a.id, at }))],
    ...(ledger.value.retrainRequestedAt || retrain
      ? { retrainRequestedAt: ledger.value.retrainRequestedAt ?? at }
      : {}),
  };
  let claimEtag: string | undefined;
  try {
    claimEtag = await store.write(ledgerKey, claimed, ledger.etag);
  } catch (error) {
    if (error instanceof ConditionalWriteError) {
      logger.warn("another decay check claimed these alerts; skipping", { ledgerKey });
      return { outcome: "concurrent-run" };
    }
    throw error;
  }

  const sent: string[] = [];
  try {
    for (const alert of due) {
      await deps.sns.send(
        new PublishCommand({
          TopicArn: env.ALERT_TOPIC_ARN,
          Subject: alertSubject(env.STAGE, alert, status, record.version).slice(0, 100),
          Message: alertBody(alert, status, record, policy),
          MessageAttributes: {
            alertId: { DataType: "String", StringValue: alert.id },
            severity: { DataType: "String", StringValue: alert.severity },
          },
        }),
      );
      sent.push(alert.id);
      metrics.addMetric("DecayAlertsSent", MetricUnit.Count, 1);
    }
    if (retrain) {
      const request: RetrainRequest = {
        type: "retrain",
        reason: "reward-decay",
        submissionTime: record.submissionTime,
        currentVersion: record.version,
        requestedAt: at,
        decayStartsAt: new Date(now.getTime() + status.daysUntilDecay * DAY_MS).toISOString(),
      };
      await deps.sqs.send(
        new SendMessageCommand({ QueueUrl: env.RETRAIN_QUEUE_URL, MessageBody: JSON.stringify(request) }),
      );
      metrics.addMetric("RetrainRequested", MetricUnit.Count, 1);
      logger.info("retrain requested", {
        submissionTime: record.submissionTime,
        daysUntilDecay: status.daysUntilDecay,
      });
    }
  } catch (error) {
    // Release what was not delivered so the next run (Lambda retry or tomorrow) sends it.
    const released: AlertLedger = {
      submissionTime: record.submissionTime,
      sent: claimed.sent.filter((s) => !due.some((d) => d.id === s.id) || sent.includes(s.id)),
      ...(ledger.value.retrainRequestedAt ? { retrainRequestedAt: ledger.value.retrainRequestedAt } : {}),
    };
    await store.write(ledgerKey, released, claimEtag ?? "any").catch((e) => {
      logger.error("could not release undelivered alerts", { error: (e as Error).message });
    });
    throw error;
  }
  return { outcome: "checked", status, version: record.version, alertsSent: sent, retrainRequested: retrain };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function alertSubject(stage: string, alert: DecayAlert, s: DecayStatus, version: string): string {
  const what =
    alert.kind === "pre-decay"
      ? `reward decay starts in ${Math.ceil(s.daysUntilDecay)} days`
      : alert.kind === "decay-started"
        ? "reward decay has started"
        : alert.kind === "factor-drop"
          ? `reward down to ${Math.round(s.rewardFactor * 100)}%`
          : "reward is zero";
  return `[roadwork ${stage}] model ${version}: ${what}`;
}

function alertBody(alert: DecayAlert, s: DecayStatus, record: ModelRecord, policy: DecayPolicy): string {
  const next = policy.nextAlert(s);
  return [
    `Model ${record.version} (${record.hfRepo} @ ${record.hfCommitSha.slice(0, 12)}), submitted ${new Date(record.submissionTime * 1000).toISOString()}.`,
    `Days since submission: ${s.daysSinceSubmission.toFixed(2)}`,
    `Reward factor: ${(s.rewardFactor * 100).toFixed(1)}% (phase: ${s.phase})`,
    `Days until decay starts: ${s.daysUntilDecay.toFixed(2)}; until zero: ${s.daysUntilZero.toFixed(2)}`,
    `Alert: ${alert.id} (${alert.severity})`,
    next ? `Next alert: ${next.alert.id} in ${next.inDays.toFixed(1)} days` : "No further alerts for this submission.",
    "",
    "Publish and register a new model to restart the clock: see docs/lifecycle.md (roadwork publish / register).",
  ].join("\n");
}

export function createDecayCheckHandler(resolveDeps: () => DecayCheckDeps) {
  return async (_event: unknown, context?: Context): Promise<DecayCheckResult> => {
    const deps = resolveDeps();
    if (context) deps.logger.addContext(context);
    try {
      return await runDecayCheck(deps);
    } finally {
      deps.metrics.publishStoredMetrics();
    }
  };
}

// Composition root: clients from the Lambda environment, created on first use so tests can import this module.
let deps: DecayCheckDeps | undefined;
function depsFromEnv(): DecayCheckDeps {
  const env = parseEnv(DecayCheckEnv, process.env, "decay-check");
  return {
    s3: tracer.captureAWSv3Client(new S3Client({})),
    sns: tracer.captureAWSv3Client(new SNSClient({})),
    sqs: tracer.captureAWSv3Client(new SQSClient({})),
    env,
    policy: policyFromEnv(env),
    now: () => new Date(),
    logger: defaultLogger,
    metrics: defaultMetrics,
  };
}

export const handler = createDecayCheckHandler(() => {
  deps ??= depsFromEnv();
  return deps;
});
