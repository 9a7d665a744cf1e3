// Generates a synthetic batch per SQS message (the weekly schedule's hard-case batch, or one the pipeline/operator
// sends): plan validator-like prompts → Bedrock (or the Cosmos NIM task) → quality gates → images and per-request
// journal in S3 → a new dataset version. The budget ledger (an S3 object written with ETag conditions) is checked
// before every call and charged after; request ids derive from the batch id, so a redelivered message or a retried
// Lambda generates and charges each image once and still commits what an earlier attempt made.
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { BedrockClient } from "@aws-sdk/client-bedrock";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { BedrockTeacher, isRealSource, Synth, s3DatasetStore } from "@roadwork/data";
import type { SQSRecord } from "aws-lambda";
import { z } from "zod";
import { parseEnv } from "./lib/env.ts";
import {
  logger as defaultLogger,
  metrics as defaultMetrics,
  sqsPartialBatchHandler,
  tracer,
} from "./lib/powertools.ts";

export const SynthGenerateEnv = z.object({
  STAGE: z.string().default("dev"),
  DATASETS_BUCKET: z.string().min(3),
  /** The dataset store's prefix in the bucket (see docs/synthetic.md). */
  DATASET_PREFIX: z.string().default("dataset/"),
  /** Batches (images, journal, reports) and the ledger live under this prefix. */
  SYNTH_PREFIX: z.string().default("synth/"),
  /** Generator used when a message names none: bedrock:<model-id>, cosmos (the stack's NIM task) or procedural. */
  SYNTH_GENERATOR: z.string().min(1),
  /** Generators a message may ask for (the IAM policy allows exactly these models). */
  SYNTH_ALLOWED_GENERATORS: z.string().min(1),
  COSMOS_URL: z.url().optional(),
  /** Cloud Map SRV name of the Cosmos NIM (host networking): resolved to http://<host>:<port> per batch. */
  COSMOS_SRV: z.string().min(1).optional(),
  SYNTH_DAY_BUDGET_USD: z.coerce.number().min(0),
  SYNTH_MONTH_BUDGET_USD: z.coerce.number().min(0),
  SYNTH_CONCURRENCY: z.coerce.number().int().min(1).max(8).default(2),
  /** Hard-case clusters from mining ([{id, description, label?, weight?}]); optional. */
  SYNTH_HARD_CASES_KEY: z.string().default("mining/hard-cases.json"),
  ALERT_TOPIC_ARN: z.string().startsWith("arn:").optional(),
  /** Bedrock vision model (Converse) that must confirm each image's label; none when unset. */
  SYNTH_TEACHER_MODEL: z.string().min(1).optional(),
});
export type SynthGenerateEnv = z.infer<typeof SynthGenerateEnv>;

export const SynthRequestMessage = z
  .object({
    batchId: z.string().regex(/^[A-Za-z0-9._:-]{1,80}$/),
    count: z.number().int().min(1).max(200),
    generator: z.string().optional(),
    label: z.union([z.literal(0), z.literal(1)]).optional(),
    /** "i2i" from real frames of the dataset when the model can; "t2i" from their captions. */
    mode: z.enum(["i2i", "t2i"]).default("i2i"),
    strength: z.number().min(0).max(1).default(0.7),
    /** "hard-cases": aim the batch at the clusters in SYNTH_HARD_CASES_KEY. */
    target: z.enum(["hard-cases", "none"]).default("none"),
  })
  .strict();
export type SynthRequestMessage = z.infer<typeof SynthRequestMessage>;

export interface SynthGenerateDeps {
  s3: S3Client;
  sns?: SNSClient;
  bedrockRuntime: BedrockRuntimeClient;
  bedrockControl: BedrockClient;
  env: SynthGenerateEnv;
  logger: Logger;
  metrics: Metrics;
  retry?: { attempts: number; baseDelayMs: number };
}

/** A bad message: it goes to the DLQ (after the queue's receive count) with this reason in the logs. */
export class InvalidSynthRequest extends Error {}

export async function processSynthRecord(deps: SynthGenerateDeps, record: SQSRecord): Promise<Synth.BatchResult> {
  const { env, s3, logger, metrics } = deps;
  let message: SynthRequestMessage;
  try {
    message = SynthRequestMessage.parse(JSON.parse(record.body));
  } catch (error) {
    throw new InvalidSynthRequest(
      `message ${record.messageId} is not a synthetic request: ${(error as Error).message.slice(0, 300)}`,
    );
  }
  const spec = message.generator ?? env.SYNTH_GENERATOR;
  const allowed = env.SYNTH_ALLOWED_GENERATORS.split(",").map((s) => s.trim());
  if (!allowed.includes(spec))
    throw new InvalidSynthRequest(`generator ${spec} is not allowed here (allowed: ${allowed.join(", ")})`);
  const generator = await buildGenerator(deps, spec);
  logger.appendKeys({ batchId: message.batchId, generator: generator.id });

  const store = s3DatasetStore(s3, env.DATASETS_BUCKET, env.DATASET_PREFIX);
  const latest = await store.latestVersion();
  const labelled = (latest?.records ?? []).filter((r) => r.label !== null);
  const real = labelled.filter((r) => isRealSource(r.source));
  const pool = real.length > 0 ? real : labelled;
  const i2i = message.mode === "i2i" && generator.capabilities.imageToImage && pool.length > 0;
  const hardCases = message.target === "hard-cases" ? await readHardCases(s3, env) : [];
  const requests = Synth.planRequests({
    batchId: message.batchId,
    count: message.count,
    ...(message.label !== undefined ? { label: message.label } : {}),
    captions: pool
      .filter((r) => r.details.sceneDescription)
      .map((r) => ({ text: r.details.sceneDescription!, source: "metadata" as const, recordId: r.sha256 })),
    ...(i2i
      ? {
          sources: pool.map((r) => ({ id: r.sha256, group: r.group, label: r.label as 0 | 1 })),
          strength: message.strength,
        }
      : {}),
    hardCases,
  });

  const reference = new Synth.ReferenceSet();
  for (const r of latest?.records ?? []) if (r.phash) reference.add(r.sha256, Synth.phashBits(r.phash));
  // No onnxruntime in this function: embeddings are 16×9 thumbnails (named in the report); the pipeline's training
  // step computes the backbone figures.
  const embedder = new Synth.ThumbnailEmbedder();
  const sample = pool.slice(0, 32);
  const realEmbeddings = sample.length
    ? await embedder.embed(await Promise.all(sample.map((r) => store.getImage(r.sha256))))
    : [];
  for (const [i, r] of sample.entries()) reference.add(r.sha256, undefined, realEmbeddings[i]);

  const batchPrefix = `${env.SYNTH_PREFIX}batches/${message.batchId}/`;
  const put = async (key: string, body: Uint8Array | string, contentType: string) => {
    await s3.send(
      new PutObjectCommand({ Bucket: env.DATASETS_BUCKET, Key: key, Body: body, ContentType: contentType }),
    );
    return key;
  };
  const getText = async (key: string): Promise<string | undefined> => {
    try {
      const res = await s3.send(new GetObjectCommand({ Bucket: env.DATASETS_BUCKET, Key: key }));
      return await res.Body?.transformToString("utf-8");
    } catch (error) {
      if (error instanceof S3ServiceException && (error.name === "NoSuchKey" || error.$metadata.httpStatusCode === 404))
        return undefined;
      throw error;
    }
  };
  const ledger = new Synth.BudgetLedger(
    new Synth.S3LedgerStore(s3, env.DATASETS_BUCKET, `${env.SYNTH_PREFIX}ledger/${env.STAGE}.json`),
    env.STAGE,
    { dayUsd: env.SYNTH_DAY_BUDGET_USD, monthUsd: env.SYNTH_MONTH_BUDGET_USD },
  );
  const result = await Synth.runBatch({
    batchId: message.batchId,
    generator,
    requests,
    price: Synth.priceOf(generator.id),
    sink: { put: (path, bytes, type) => put(batchPrefix + path, bytes, type) },
    gates: {
      thresholds: Synth.DEFAULT_GATES,
      reference,
      embedder,
      ...(env.SYNTH_TEACHER_MODEL
        ? { teacher: new BedrockTeacher({ client: deps.bedrockRuntime, modelId: env.SYNTH_TEACHER_MODEL }) }
        : {}),
    },
    ledger,
    alerter: {
      alert: async (subject, text) => {
        logger.warn("budget stop", { subject, text });
        if (deps.sns && env.ALERT_TOPIC_ARN) {
          await deps.sns.send(
            new PublishCommand({ TopicArn: env.ALERT_TOPIC_ARN, Subject: subject, Message: `[${env.STAGE}] ${text}` }),
          );
        }
      },
    },
    journal: {
      save: async (id, records) =>
        void (await put(`${batchPrefix}records/${id}.json`, JSON.stringify(records), "application/json")),
      load: async (id) => {
        const text = await getText(`${batchPrefix}records/${id}.json`);
        return text ? (JSON.parse(text) as Synth.SynthImageRecord[]) : undefined;
      },
    },
    loadSource: (sha) => store.getImage(sha),
    realEmbeddings,
    concurrency: env.SYNTH_CONCURRENCY,
    ...(deps.retry ? { retry: deps.retry } : {}),
    onEvent: (e) => {
      if (e.kind === "failure")
        logger.warn("generation failed", { requestId: e.requestId, kind: e.error.kind, error: e.error.message });
    },
  });

  let versionId: string | null = null;
  if (result.accepted.length + result.recovered.length > 0) {
    const derived = await Synth.commitBatch(store, result, async (r) => {
      const res = await s3.send(new GetObjectCommand({ Bucket: env.DATASETS_BUCKET, Key: r.location }));
      return new Uint8Array(await res.Body!.transformToByteArray());
    });
    versionId = derived.version.id;
  }
  const summary = Synth.batchSummary(result);
  await put(
    `${batchPrefix}batch.json`,
    JSON.stringify({ summary, datasetVersion: versionId, result }),
    "application/json",
  );
  await put(`${batchPrefix}report.html`, Synth.renderBatchReport(result, await ledger.summary()), "text/html");

  metrics.addMetric("SynthImagesAccepted", MetricUnit.Count, result.accepted.length);
  metrics.addMetric("SynthImagesRejected", MetricUnit.Count, result.rejected.length);
  const judged = result.accepted.length + result.rejected.length;
  if (judged > 0) metrics.addMetric("SynthRejectionRate", MetricUnit.Percent, (100 * result.rejected.length) / judged);
  metrics.addMetric("SynthSpendUsd", MetricUnit.NoUnit, result.costUsd);
  metrics.addMetric("SynthBudgetStops", MetricUnit.Count, result.stopped?.reason === "budget" ? 1 : 0);
  for (const [kind, n] of Object.entries(result.failures))
    metrics.addMetric(`SynthFailures_${kind}`, MetricUnit.Count, n ?? 0);
  logger.info("synthetic batch done", { ...summary, datasetVersion: versionId });
  // Access or quota problems will not fix themselves on a retry in seconds: fail the message (DLQ + alarm).
  if (result.stopped && result.stopped.reason !== "budget") throw new Error(result.stopped.message);
  return result;
}

async function buildGenerator(deps: SynthGenerateDeps, spec: string): Promise<Synth.ImageGenerator> {
  if (spec === "procedural") return new Synth.ProceduralGenerator();
  if (spec === "cosmos") {
    const baseUrl = deps.env.COSMOS_SRV ? await resolveSrvUrl(deps.env.COSMOS_SRV) : deps.env.COSMOS_URL;
    if (!baseUrl)
      throw new InvalidSynthRequest("generator cosmos needs COSMOS_SRV or COSMOS_URL (the stack's NIM task)");
    return new Synth.CosmosGenerator({ baseUrl, timeoutMs: 600_000 });
  }
  if (spec.startsWith("bedrock:")) {
    return new Synth.BedrockImageGenerator({
      runtime: deps.bedrockRuntime,
      control: deps.bedrockControl,
      modelId: spec.slice("bedrock:".length),
    });
  }
  throw new InvalidSynthRequest(`unknown generator ${spec}`);
}

/** The NIM task's address from its Cloud Map SRV record; no record means the task is not running (yet). */
async function resolveSrvUrl(name: string): Promise<string> {
  const { resolveSrv } = await import("node:dns/promises");
  const records = await resolveSrv(name).catch(() => []);
  const first = records.sort((a, b) => a.priority - b.priority)[0];
  // Retryable: the service scales up when messages wait; the message comes back after its visibility timeout.
  if (!first) throw new Error(`Cosmos NIM not registered yet (${name}); it starts when its queue has work`);
  return `http://${first.name}:${first.port}`;
}

async function readHardCases(s3: S3Client, env: SynthGenerateEnv): Promise<Synth.HardCaseCluster[]> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: env.DATASETS_BUCKET, Key: env.SYNTH_HARD_CASES_KEY }));
    return Synth.HardCaseClustersSchema.parse(JSON.parse((await res.Body?.transformToString("utf-8")) ?? "[]"));
  } catch (error) {
    if (error instanceof S3ServiceException && (error.name === "NoSuchKey" || error.$metadata.httpStatusCode === 404))
      return [];
    throw new Error(
      `hard cases s3://${env.DATASETS_BUCKET}/${env.SYNTH_HARD_CASES_KEY} unreadable: ${(error as Error).message}`,
    );
  }
}

export function createSynthGenerateHandler(resolveDeps: () => SynthGenerateDeps) {
  return sqsPartialBatchHandler(
    resolveDeps,
    async (deps, record) => Synth.batchSummary(await processSynthRecord(deps, record)),
    {
      failureMessage: "synthetic batch failed",
      failureMetric: "SynthBatchFailed",
      keysToClear: ["batchId", "generator"],
    },
  );
}

let deps: SynthGenerateDeps | undefined;
export const handler = createSynthGenerateHandler(() => {
  deps ??= {
    s3: tracer.captureAWSv3Client(new S3Client({})),
    sns: tracer.captureAWSv3Client(new SNSClient({})),
    // Throttling is retried (and counted) by the batch runner.
    bedrockRuntime: tracer.captureAWSv3Client(new BedrockRuntimeClient({ maxAttempts: 1 })),
    bedrockControl: tracer.captureAWSv3Client(new BedrockClient({})),
    env: parseEnv(SynthGenerateEnv, process.env, "synth-generate"),
    logger: defaultLogger,
    metrics: defaultMetrics,
  };
  return deps;
});
