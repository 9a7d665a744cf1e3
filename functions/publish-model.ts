// Publishes a promoted bundle (SQS message from the pipeline): S3 bundle -> Hugging Face (public repo, model card)
// -> NATIX registration -> the submitted-model record in S3, which restarts the decay clock.
//
// Idempotency: Powertools' makeIdempotent needs DynamoDB; this flow keeps a per-version checkpoint object in the
// models bucket instead (created with If-None-Match, advanced with If-Match). Besides deduplicating repeats, it lets a
// retry resume after the last finished step, with the same submission_time, so the Hugging Face commit is not redone.
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { loadHotkeyFromSecret } from "@roadwork/chain/hotkey-secret";
import {
  buildModelCard,
  ConditionalWriteError,
  type FetchFn,
  type HotkeySigner,
  MODEL_RECORD_KEY,
  ModelRecord,
  metricsFromBundle,
  PublishRequest,
  publishModel,
  redact,
  registerWithNatix,
  renderModelReadme,
  S3JsonStore,
  SemVer,
} from "@roadwork/lifecycle";
import type { SQSRecord } from "aws-lambda";
import { z } from "zod";
import { downloadBundle } from "./lib/bundle-source.ts";
import { parseEnv } from "./lib/env.ts";
import {
  logger as defaultLogger,
  metrics as defaultMetrics,
  sqsPartialBatchHandler,
  tracer,
} from "./lib/powertools.ts";
import { readHfToken } from "./lib/secrets.ts";

export const PublishModelEnv = z.object({
  MODELS_BUCKET: z.string().min(3),
  MODEL_RECORD_KEY: z.string().min(1).default(MODEL_RECORD_KEY),
  HF_TOKEN_SECRET_ARN: z.string().min(1),
  HOTKEY_SECRET_ARN: z.string().min(1),
  HF_ENDPOINT: z.url().default("https://huggingface.co"),
  /** Operator topic for the "model published" notice (optional). */
  ALERT_TOPIC_ARN: z.string().startsWith("arn:").optional(),
  /** Optional step (stacks/config.ts natixRegistration): off, the model is published and the record written without it. */
  NATIX_REGISTRATION: z.enum(["on", "off"]).default("on"),
  NATIX_BASE_URL: z.url().default("https://hydra.natix.network"),
  NATIX_POLL_INTERVAL_MS: z.coerce.number().int().positive().default(3_000),
  NATIX_DEADLINE_MS: z.coerce.number().int().positive().default(180_000),
  STAGE: z.string().default("dev"),
});
export type PublishModelEnv = z.infer<typeof PublishModelEnv>;

export interface PublishModelDeps {
  s3: S3Client;
  secrets: SecretsManagerClient;
  sns?: SNSClient;
  /** Outbound HTTP (Hugging Face, NATIX). */
  fetch: FetchFn;
  env: PublishModelEnv;
  /** Reads the hotkey secret ({"seedHex"} or {"mnemonic"}, or a wallet hotkey file) and returns the signer. */
  loadHotkey: (secrets: SecretsManagerClient, secretId: string) => Promise<HotkeySigner>;
  now: () => Date;
  logger: Logger;
  metrics: Metrics;
  /** Retry tuning for Hugging Face calls (tests shorten it). */
  hubRetry?: { baseDelayMs?: number; timeoutMs?: number; attempts?: number };
}

export const PublishCheckpoint = z.object({
  version: SemVer,
  bundlePrefix: z.string(),
  repo: z.string(),
  uid: z.number().int(),
  messageId: z.string(),
  submissionTime: z.number().int().positive(),
  step: z.enum(["started", "published", "registered"]),
  hfCommitSha: z.string().optional(),
  registeredAt: z.number().int().optional(),
  lastError: z.string().optional(),
  updatedAt: z.iso.datetime(),
});
export type PublishCheckpoint = z.infer<typeof PublishCheckpoint>;

export const checkpointKey = (version: string) => `models/publish/${version}.json`;

/** A failure retrying cannot fix: the message goes to the DLQ after maxReceiveCount either way; the log says why. */
export class PublishRejected extends Error {
  override name = "PublishRejected";
}

export async function processPublishRecord(deps: PublishModelDeps, record: SQSRecord): Promise<ModelRecord | "done"> {
  const { env, logger, metrics } = deps;
  let json: unknown;
  try {
    json = JSON.parse(record.body);
  } catch {
    throw new PublishRejected(`message ${record.messageId} is not JSON`);
  }
  const parsed = PublishRequest.safeParse(json);
  if (!parsed.success) {
    throw new PublishRejected(
      `message ${record.messageId} is not a publish request: ${parsed.error.issues[0]?.message}`,
    );
  }
  const req = parsed.data;
  const store = new S3JsonStore(deps.s3, env.MODELS_BUCKET);
  const key = checkpointKey(req.version);
  logger.appendKeys({ version: req.version, repo: req.repo });

  let cp = await store.read(key, PublishCheckpoint);
  if (cp && (cp.value.bundlePrefix !== req.bundlePrefix || cp.value.repo !== req.repo || cp.value.uid !== req.uid)) {
    throw new PublishRejected(
      `version ${req.version} was already published from ${cp.value.bundlePrefix} to ${cp.value.repo}; give the new bundle a new version`,
    );
  }
  if (!cp) {
    const fresh: PublishCheckpoint = {
      ...req,
      messageId: record.messageId,
      submissionTime: Math.floor(deps.now().getTime() / 1000),
      step: "started",
      updatedAt: deps.now().toISOString(),
    };
    try {
      cp = { value: fresh, etag: await store.write(key, pickCheckpoint(fresh), undefined) };
    } catch (error) {
      if (!(error instanceof ConditionalWriteError)) throw error;
      cp = await store.read(key, PublishCheckpoint); // a concurrent delivery created it first
      if (!cp) throw error;
    }
  }
  const advance = async (patch: Partial<PublishCheckpoint>) => {
    const next = { ...cp!.value, ...patch, updatedAt: deps.now().toISOString() };
    cp = { value: next, etag: await store.write(key, pickCheckpoint(next), cp!.etag ?? "any") };
  };

  const hfToken = await readHfToken(deps.secrets, env.HF_TOKEN_SECRET_ARN);
  const hotkey = await deps.loadHotkey(deps.secrets, env.HOTKEY_SECRET_ARN);
  const secrets = [hfToken];

  try {
    if (cp.value.step === "started") {
      const files = await downloadBundle(deps.s3, env.MODELS_BUCKET, req.bundlePrefix);
      const card = buildModelCard({
        modelName: req.modelName ?? req.repo.split("/")[1]!,
        description: req.description ?? `Roadwork classifier ${req.version} for the NATIX StreetVision subnet`,
        version: req.version,
        hotkey: hotkey.address,
        submissionTime: cp.value.submissionTime,
      });
      const readme = renderModelReadme({
        card,
        metrics: metricsFromBundle(files),
        files: files.map((f) => ({ path: f.path, size: f.content.byteLength })),
      });
      const published = await publishModel({
        hub: { accessToken: hfToken, hubUrl: env.HF_ENDPOINT, fetch: deps.fetch, retry: deps.hubRetry },
        repo: req.repo,
        bundleFiles: files,
        modelCard: card,
        readme,
        log: (event, data) => logger.info(event, data),
      });
      metrics.addMetric("ModelPublished", MetricUnit.Count, published.unchanged ? 0 : 1);
      logger.info("published to Hugging Face", { commit: published.commitSha, unchanged: published.unchanged });
      await advance({ step: "published", hfCommitSha: published.commitSha, lastError: undefined });
    }

    if (cp.value.step === "published" && env.NATIX_REGISTRATION === "on") {
      const outcome = await registerWithNatix({
        uid: req.uid,
        repo: req.repo,
        hotkey,
        fetch: deps.fetch,
        baseUrl: env.NATIX_BASE_URL,
        pollIntervalMs: env.NATIX_POLL_INTERVAL_MS,
        deadlineMs: env.NATIX_DEADLINE_MS,
        now: deps.now,
        log: (event, data) => logger.info(event, data),
      });
      metrics.addMetric("NatixStatusPolls", MetricUnit.Count, outcome.polls);
      if (outcome.status === "failed") {
        await advance({ lastError: `NATIX: ${outcome.errorMessage}`.slice(0, 2000) });
        throw new Error(`NATIX registration failed for uid ${req.uid}: ${outcome.errorMessage}`);
      }
      await advance({ step: "registered", registeredAt: outcome.submittedAt, lastError: undefined });
      metrics.addMetric("NatixRegistered", MetricUnit.Count, 1);
    }
  } catch (error) {
    throw new Error(redact((error as Error).message, secrets));
  }

  // step === "registered" (or "published" with registration off): make sure the record says so (a crash may have
  // happened between the two writes).
  const c = cp.value;
  const registration =
    c.step === "registered"
      ? { status: "succeeded" as const, uid: c.uid, ...(c.registeredAt ? { registeredAt: c.registeredAt } : {}) }
      : { status: "skipped" as const, uid: c.uid };
  const current = await store.read(env.MODEL_RECORD_KEY, ModelRecord);
  if (current?.value.version === c.version && current.value.submissionTime === c.submissionTime) return "done";
  const next: ModelRecord = {
    schemaVersion: 1,
    version: c.version,
    bundlePrefix: c.bundlePrefix,
    hfRepo: c.repo,
    hfCommitSha: c.hfCommitSha!,
    submissionTime: c.submissionTime,
    submittedBy: hotkey.address,
    registration,
    updatedAt: deps.now().toISOString(),
  };
  await store.write(env.MODEL_RECORD_KEY, ModelRecord.parse(next), current?.etag ?? undefined);
  logger.info("submitted-model record updated; the decay clock restarts", { submissionTime: c.submissionTime });
  if (deps.sns && env.ALERT_TOPIC_ARN) {
    // Best effort: the model is live either way; a lost notice must not re-run the publish.
    await deps.sns
      .send(
        new PublishCommand({
          TopicArn: env.ALERT_TOPIC_ARN,
          Subject:
            `[roadwork ${env.STAGE}] model ${c.version} published${registration.status === "succeeded" ? " and registered" : ""}`.slice(
              0,
              100,
            ),
          Message: [
            `Model ${c.version} is live: ${env.HF_ENDPOINT}/${c.repo} @ ${c.hfCommitSha}`,
            registration.status === "succeeded"
              ? `NATIX registration for uid ${c.uid} succeeded; submitted by ${hotkey.address}.`
              : `NATIX registration is off for this stage (optional); submitted by ${hotkey.address}.`,
            `The reward clock restarted at ${new Date(c.submissionTime * 1000).toISOString()} (submission_time ${c.submissionTime}).`,
          ].join("\n"),
          MessageAttributes: { alertId: { DataType: "String", StringValue: "model-published" } },
        }),
      )
      .catch((error: Error) => logger.warn("could not send the published notice", { error: error.message }));
  }
  return next;
}

function pickCheckpoint(c: PublishCheckpoint): PublishCheckpoint {
  return PublishCheckpoint.parse(Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)));
}

export function createPublishModelHandler(resolveDeps: () => PublishModelDeps) {
  return sqsPartialBatchHandler(resolveDeps, processPublishRecord, {
    failureMessage: "publish failed",
    failureMetric: "PublishFailed",
    keysToClear: ["version", "repo"],
  });
}

let deps: PublishModelDeps | undefined;
function depsFromEnv(): PublishModelDeps {
  return {
    s3: tracer.captureAWSv3Client(new S3Client({})),
    secrets: tracer.captureAWSv3Client(new SecretsManagerClient({})),
    sns: tracer.captureAWSv3Client(new SNSClient({})),
    fetch: globalThis.fetch,
    env: parseEnv(PublishModelEnv, process.env, "publish-model"),
    loadHotkey: loadHotkeyFromSecret,
    now: () => new Date(),
    logger: defaultLogger,
    metrics: defaultMetrics,
  };
}

export const handler = createPublishModelHandler(() => {
  deps ??= depsFromEnv();
  return deps;
});
