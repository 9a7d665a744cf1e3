// Daily capture export (EventBridge schedule): the challenges the axon captured under `captures/` in the datasets
// bucket join the dataset store as a new version (@roadwork/data importCaptures: source "captured", unlabelled unless
// a testnet label came, already-imported ones skipped), and datasets/latest/manifest.json in the pipeline store is
// pointed at the store's newest version (@roadwork/pipeline recordLatestDataset), whoever committed it (this import,
// a synthetic batch, a labelling session), so a decay- or drift-driven retrain trains on it.
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { S3Client } from "@aws-sdk/client-s3";
import { importCaptures, S3BlobStore, s3DatasetStore } from "@roadwork/data";
import { type LatestDatasetOutcome, recordLatestDataset } from "@roadwork/pipeline/latest-dataset";
import { S3Store } from "@roadwork/pipeline/store";
import { z } from "zod";
import { parseEnv } from "./lib/env.ts";
import { logger as defaultLogger, metrics as defaultMetrics, scheduledHandler, tracer } from "./lib/powertools.ts";

export const CaptureExportEnv = z.object({
  DATASETS_BUCKET: z.string().min(3),
  DATASET_PREFIX: z.string().default("dataset/"),
  MODELS_BUCKET: z.string().min(3),
  STORE_PREFIX: z.string().default("models/pipeline/"),
  STAGE: z.string().default("dev"),
});
export type CaptureExportEnv = z.infer<typeof CaptureExportEnv>;

export interface CaptureExportDeps {
  s3: S3Client;
  env: CaptureExportEnv;
  logger: Logger;
  metrics: Metrics;
  now: () => Date;
}

export interface CaptureExportResult {
  captures: { seen: number; added: number; alreadyPresent: number; errors: number };
  version: string | null;
  latest: LatestDatasetOutcome | null;
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
  return {
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

export function createCaptureExportHandler(resolveDeps: () => CaptureExportDeps) {
  return scheduledHandler(resolveDeps, (deps) => runCaptureExport(deps));
}

let deps: CaptureExportDeps | undefined;
export const handler = createCaptureExportHandler(() => {
  deps ??= {
    s3: tracer.captureAWSv3Client(new S3Client({})),
    env: parseEnv(CaptureExportEnv, process.env, "capture-export"),
    logger: defaultLogger,
    metrics: defaultMetrics,
    now: () => new Date(),
  };
  return deps;
});
