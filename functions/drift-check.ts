// Daily drift check (EventBridge schedule): the serving model's live scores of the last day (the axon's prediction
// records) against its scores on the frozen evaluation set it was promoted on (@roadwork/pipeline measureDrift: PSI,
// KS, near-threshold share). Publishes the figures as metrics, records the day's report (JSON + SVG) in the pipeline
// store, and on drift sends one retrain request per UTC day on the retrain queue (the decay check's message shape,
// reason "drift"; the trigger names the execution drift-<day>, so even a second message starts nothing new).
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { S3Client } from "@aws-sdk/client-s3";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DecayPolicy, MODEL_RECORD_KEY, ModelRecord, type RetrainRequest, S3JsonStore } from "@roadwork/lifecycle";
import {
  type DriftReport,
  measureDrift,
  readLivePredictions,
  referenceScores,
  renderDriftSvg,
  S3PointerStore,
  S3Store,
} from "@roadwork/pipeline/watchers";
import { z } from "zod";
import { parseEnv } from "./lib/env.ts";
import { logger as defaultLogger, metrics as defaultMetrics, scheduledHandler, tracer } from "./lib/powertools.ts";

const DAY_MS = 86_400_000;
const number = z.coerce.number().positive().optional();

export const DriftCheckEnv = z.object({
  MODELS_BUCKET: z.string().min(3),
  STORE_PREFIX: z.string().default("models/pipeline/"),
  POINTER_KEY: z.string().default("models/current.json"),
  MODEL_RECORD_KEY: z.string().default(MODEL_RECORD_KEY),
  PREDICTIONS_BUCKET: z.string().min(3),
  PREDICTIONS_PREFIX: z.string().default("raw/"),
  RETRAIN_QUEUE_URL: z.url(),
  STAGE: z.string().default("dev"),
  DRIFT_PSI_LIMIT: number,
  DRIFT_KS_LIMIT: number,
  DRIFT_NEAR_BAND: number,
  DRIFT_NEAR_DELTA_LIMIT: number,
  DRIFT_MIN_LIVE: z.coerce.number().int().positive().optional(),
});
export type DriftCheckEnv = z.infer<typeof DriftCheckEnv>;

export interface DriftCheckDeps {
  s3: S3Client;
  sqs: SQSClient;
  env: DriftCheckEnv;
  logger: Logger;
  metrics: Metrics;
  now: () => Date;
}

/** What the day's report file holds. */
export const DriftDay = z.object({
  day: z.string(),
  modelVersion: z.string(),
  runId: z.string(),
  evaluationSet: z.string(),
  report: z.custom<DriftReport>(),
  records: z.object({ otherVersion: z.number(), cached: z.number(), unreadable: z.number(), objects: z.number() }),
  checkedAt: z.string(),
  retrainRequestedAt: z.string().optional(),
});
export type DriftDay = z.infer<typeof DriftDay>;

export type DriftCheckResult =
  | { outcome: "no-model" }
  | { outcome: "no-reference"; modelVersion: string }
  | { outcome: "checked"; status: DriftReport["status"]; retrainRequested: boolean; report: string };

export const driftReportKey = (day: string) => `drift/${day}.json`;

export async function runDriftCheck(deps: DriftCheckDeps): Promise<DriftCheckResult> {
  const { env, logger, metrics } = deps;
  const now = deps.now();
  const day = now.toISOString().slice(0, 10);
  const store = new S3Store(deps.s3, env.MODELS_BUCKET, env.STORE_PREFIX);
  const current = await new S3PointerStore(deps.s3, env.MODELS_BUCKET, env.POINTER_KEY).read();
  if (!current) {
    logger.warn("no model pointer yet; nothing to compare", { pointer: env.POINTER_KEY });
    return { outcome: "no-model" };
  }
  const pointer = current.pointer;
  const reference = await referenceScores(store, pointer);
  if (!reference || !pointer.runId) {
    // A hand-written pointer (or the demo) has no evaluation set to compare with; the next pipeline run brings one.
    logger.warn("the serving model has no evaluation record; drift cannot be judged", { version: pointer.version });
    metrics.addMetric("DriftUnjudged", MetricUnit.Count, 1);
    return { outcome: "no-reference", modelVersion: pointer.version };
  }
  const live = await readLivePredictions(
    deps.s3,
    { bucket: env.PREDICTIONS_BUCKET, prefix: env.PREDICTIONS_PREFIX },
    { from: new Date(now.getTime() - DAY_MS), to: now, modelVersion: pointer.version },
  );
  const report = measureDrift(reference.scores, live.scores, {
    ...(env.DRIFT_PSI_LIMIT !== undefined && { psiLimit: env.DRIFT_PSI_LIMIT }),
    ...(env.DRIFT_KS_LIMIT !== undefined && { ksLimit: env.DRIFT_KS_LIMIT }),
    ...(env.DRIFT_NEAR_BAND !== undefined && { nearBand: env.DRIFT_NEAR_BAND }),
    ...(env.DRIFT_NEAR_DELTA_LIMIT !== undefined && { nearShareDeltaLimit: env.DRIFT_NEAR_DELTA_LIMIT }),
    ...(env.DRIFT_MIN_LIVE !== undefined && { minLive: env.DRIFT_MIN_LIVE }),
  });
  metrics.addMetric("LivePredictions", MetricUnit.Count, report.live.count);
  if (report.status !== "insufficient") {
    metrics.addMetric("DriftPsi", MetricUnit.NoUnit, report.psi);
    metrics.addMetric("DriftKs", MetricUnit.NoUnit, report.ks);
    metrics.addMetric("NearThresholdShare", MetricUnit.NoUnit, report.live.nearShare);
    metrics.addMetric("NearThresholdShareDelta", MetricUnit.NoUnit, report.nearShareDelta);
  }
  metrics.addMetric("DriftDetected", MetricUnit.Count, report.status === "drift" ? 1 : 0);
  logger.info("drift check", { version: pointer.version, status: report.status, psi: report.psi, ks: report.ks });

  const key = driftReportKey(day);
  const earlier = await store.getJson<unknown>(key);
  const alreadyRequested = earlier ? DriftDay.safeParse(earlier).data?.retrainRequestedAt : undefined;
  const record: DriftDay = {
    day,
    modelVersion: pointer.version,
    runId: pointer.runId,
    evaluationSet: reference.setId,
    report,
    records: {
      otherVersion: live.otherVersion,
      cached: live.cached,
      unreadable: live.unreadable,
      objects: live.objects,
    },
    checkedAt: now.toISOString(),
    ...(alreadyRequested ? { retrainRequestedAt: alreadyRequested } : {}),
  };
  let retrainRequested = false;
  if (report.status === "drift" && !alreadyRequested) {
    await deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: env.RETRAIN_QUEUE_URL,
        MessageBody: JSON.stringify(await retrainRequest(deps, pointer.version, pointer.promotedAt, now)),
      }),
    );
    record.retrainRequestedAt = now.toISOString();
    retrainRequested = true;
    metrics.addMetric("RetrainRequested", MetricUnit.Count, 1);
    logger.info("drift: retrain requested", { day, reasons: report.reasons });
  }
  await store.putJson(key, record);
  await store.put(`drift/${day}.svg`, Buffer.from(renderDriftSvg(report)));
  return { outcome: "checked", status: report.status, retrainRequested, report: store.uri(key) };
}

/** The decay check's message, reason "drift": the submission (or, before any, the promotion) names the model. */
async function retrainRequest(
  deps: DriftCheckDeps,
  modelVersion: string,
  promotedAt: string,
  now: Date,
): Promise<RetrainRequest> {
  const record = (await new S3JsonStore(deps.s3, deps.env.MODELS_BUCKET).read(deps.env.MODEL_RECORD_KEY, ModelRecord))
    ?.value;
  const submissionTime = record?.submissionTime ?? Math.floor(Date.parse(promotedAt) / 1000);
  const status = new DecayPolicy().status(submissionTime, now);
  return {
    type: "retrain",
    reason: "drift",
    submissionTime,
    currentVersion: record?.version ?? /(\d+\.\d+\.\d+)/.exec(modelVersion)?.[1] ?? "0.0.0",
    requestedAt: now.toISOString(),
    decayStartsAt: new Date(now.getTime() + status.daysUntilDecay * DAY_MS).toISOString(),
  };
}

export function createDriftCheckHandler(resolveDeps: () => DriftCheckDeps) {
  return scheduledHandler(resolveDeps, (deps) => runDriftCheck(deps));
}

let deps: DriftCheckDeps | undefined;
export const handler = createDriftCheckHandler(() => {
  deps ??= {
    s3: tracer.captureAWSv3Client(new S3Client({})),
    sqs: tracer.captureAWSv3Client(new SQSClient({})),
    env: parseEnv(DriftCheckEnv, process.env, "drift-check"),
    logger: defaultLogger,
    metrics: defaultMetrics,
    now: () => new Date(),
  };
  return deps;
});
