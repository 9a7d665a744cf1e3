// Daily capture export (EventBridge schedule): the challenges the axon captured under `captures/` in the datasets
// bucket join the dataset store as a new version (@roadwork/data importCaptures: source "captured", unlabelled unless
// a testnet label came, already-imported ones skipped), and datasets/latest/manifest.json in the pipeline store is
// pointed at the store's newest version (@roadwork/pipeline recordLatestDataset), whoever committed it (this import,
// a synthetic batch, a labelling session), so a decay- or drift-driven retrain trains on it. When the import made a
// new version and a model is serving, the serving bundle mines it (@roadwork/pipeline mineLabellingBatch, the code of
// `roadwork mine`): the labelling batch is saved beside the dataset (labelling/<id>.json) and the operator is told
// which `roadwork label` command labels it.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { importCaptures, S3BlobStore, s3DatasetStore } from "@roadwork/data";
import { type LatestDatasetOutcome, recordLatestDataset } from "@roadwork/pipeline/latest-dataset";
import { type MiningRun, mineLabellingBatch } from "@roadwork/pipeline/mining";
import { S3PointerStore } from "@roadwork/pipeline/model-pointer";
import { downloadDir, S3Store } from "@roadwork/pipeline/store";
import { z } from "zod";
import { parseEnv } from "./lib/env.ts";
import { logger as defaultLogger, metrics as defaultMetrics, scheduledHandler, tracer } from "./lib/powertools.ts";

export const CaptureExportEnv = z.object({
  DATASETS_BUCKET: z.string().min(3),
  DATASET_PREFIX: z.string().default("dataset/"),
  MODELS_BUCKET: z.string().min(3),
  STORE_PREFIX: z.string().default("models/pipeline/"),
  POINTER_KEY: z.string().default("models/current.json"),
  /** Cases per daily labelling batch (0: no mining). */
  MINING_BUDGET: z.coerce.number().int().min(0).default(100),
  ALERT_TOPIC_ARN: z.string().startsWith("arn:").optional(),
  STAGE: z.string().default("dev"),
});
export type CaptureExportEnv = z.infer<typeof CaptureExportEnv>;

export interface CaptureExportDeps {
  s3: S3Client;
  sns: SNSClient;
  env: CaptureExportEnv;
  logger: Logger;
  metrics: Metrics;
  now: () => Date;
}

export interface CaptureExportResult {
  captures: { seen: number; added: number; alreadyPresent: number; errors: number };
  version: string | null;
  latest: LatestDatasetOutcome | null;
  mining: { batch: string; cases: number; candidates: number; modelVersion: string | null } | { skipped: string };
}

export async function runCaptureExport(deps: CaptureExportDeps): Promise<CaptureExportResult> {
  const { env, logger, metrics } = deps;
  const datasets = s3DatasetStore(deps.s3, env.DATASETS_BUCKET, env.DATASET_PREFIX);
  const report = await importCaptures({
    store: datasets,
    captures: new S3BlobStore(deps.s3, env.DATASETS_BUCKET, ""),
  });
  for (const issue of report.errors.slice(0, 20)) logger.warn("capture not imported", { ...issue });
  metrics.addMetric("CapturesImported", MetricUnit.Count, report.added);
  metrics.addMetric("CaptureImportErrors", MetricUnit.Count, report.errors.length);
  const version = await datasets.latestVersion();
  const latest = version
    ? await recordLatestDataset(
        new S3Store(deps.s3, env.MODELS_BUCKET, env.STORE_PREFIX),
        version,
        datasets.location,
        deps.now(),
      )
    : null;
  if (latest?.written) metrics.addMetric("LatestDatasetMoved", MetricUnit.Count, 1);
  logger.info("capture export", {
    seen: report.seen,
    added: report.added,
    alreadyPresent: report.alreadyPresent,
    errors: report.errors.length,
    version: version?.id,
    latest,
  });
  const mining = report.changed && version ? await mineNewVersion(deps, version) : { skipped: "no new captures" };
  return {
    mining,
    captures: {
      seen: report.seen,
      added: report.added,
      alreadyPresent: report.alreadyPresent,
      errors: report.errors.length,
    },
    version: version?.id ?? null,
    latest,
  };
}

/** The serving bundle mines the new version; the batch waits in the dataset store for `roadwork label`. */
async function mineNewVersion(
  deps: CaptureExportDeps,
  version: NonNullable<Awaited<ReturnType<ReturnType<typeof s3DatasetStore>["latestVersion"]>>>,
): Promise<CaptureExportResult["mining"]> {
  const { env, logger, metrics } = deps;
  if (env.MINING_BUDGET === 0) return { skipped: "MINING_BUDGET is 0" };
  const current = await new S3PointerStore(deps.s3, env.MODELS_BUCKET, env.POINTER_KEY).read();
  const at = /^s3:\/\/([^/]+)\/(.+\/)$/.exec(current?.pointer.bundle ?? "");
  if (!current || !at)
    return { skipped: current ? `bundle ${current.pointer.bundle} is not an S3 prefix` : "no model" };
  const dir = await mkdtemp(join(tmpdir(), "roadwork-mine-"));
  let run: MiningRun;
  try {
    await downloadDir(new S3Store(deps.s3, at[1]!, ""), at[2]!, dir);
    const datasets = s3DatasetStore(deps.s3, env.DATASETS_BUCKET, env.DATASET_PREFIX);
    run = await mineLabellingBatch({
      store: datasets,
      version,
      bundleDir: dir,
      budget: env.MINING_BUDGET,
      onSkip: (sha256, message) => logger.warn("image not mined", { sha256, message }),
      now: deps.now,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (!run.batch) return { skipped: "no unlabelled captures" };
  metrics.addMetric("LabellingCasesMined", MetricUnit.Count, run.batch.items.length);
  const where = `${env.DATASET_PREFIX}labelling/${run.batch.id}.json`;
  logger.info("labelling batch mined", { batch: run.batch.id, cases: run.batch.items.length, where });
  if (env.ALERT_TOPIC_ARN) {
    await deps.sns.send(
      new PublishCommand({
        TopicArn: env.ALERT_TOPIC_ARN,
        Subject: `[roadwork ${env.STAGE}] ${run.batch.items.length} captured challenges to label`.slice(0, 100),
        Message: [
          `Mined from ${run.candidates} unlabelled captures of dataset version ${version.id.slice(0, 12)} by ${run.modelVersion}`,
          `(mean uncertainty ${run.meanUncertainty.toFixed(3)}): s3://${env.DATASETS_BUCKET}/${where}`,
          "",
          `Label them: roadwork label --data s3://${env.DATASETS_BUCKET}/${env.DATASET_PREFIX} --batch ${run.batch.id} --teacher bedrock`,
        ].join("\n"),
      }),
    );
  }
  return {
    batch: run.batch.id,
    cases: run.batch.items.length,
    candidates: run.candidates,
    modelVersion: run.modelVersion,
  };
}

export function createCaptureExportHandler(resolveDeps: () => CaptureExportDeps) {
  return scheduledHandler(resolveDeps, (deps) => runCaptureExport(deps));
}

let deps: CaptureExportDeps | undefined;
export const handler = createCaptureExportHandler(() => {
  deps ??= {
    s3: tracer.captureAWSv3Client(new S3Client({})),
    sns: tracer.captureAWSv3Client(new SNSClient({})),
    env: parseEnv(CaptureExportEnv, process.env, "capture-export"),
    logger: defaultLogger,
    metrics: defaultMetrics,
    now: () => new Date(),
  };
  return deps;
});
