// The drift check against fauxqs S3/SQS with the real SDK clients: prediction records written by the axon's own
// S3PredictionLog, the promoted run's evaluation record as the reference, the real retrain queue. A day like the
// evaluation set is stable; a day whose answers crowd the threshold is drift and sends one retrain request per day.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { Prng } from "@roadwork/data";
import { RetrainRequest } from "@roadwork/lifecycle";
import { type PredictionRecord, silentLogger } from "@roadwork/miner";
import { measureDrift, type PromotionPointer } from "@roadwork/pipeline";
import { S3PredictionLog } from "../containers/axon/prediction-log.ts";
import {
  CapturedMetrics,
  capturedLogger,
  drainQueue,
  type Emulators,
  startEmulators,
} from "../packages/lifecycle/test/support/aws-emulators.ts";
import { createDriftCheckHandler, type DriftCheckDeps, DriftCheckEnv } from "./drift-check.ts";
import { executionName } from "./retrain-trigger.ts";

const MODELS = "roadwork-models-drift";
const PREDICTIONS = "roadwork-predictions-drift";
const NOW = new Date("2026-03-10T06:00:00.000Z");
const VERSION = "roadwork@1.2.0";

/** A seeded stream in [0, 1), so the distributions are the same on every run. */
function uniform(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.next();
}

/** A confident model: half the scores near 0.1, half near 0.9 (spread 0.15), clipped into (0, 1). */
function confident(n: number, seed: number): number[] {
  const u = uniform(seed);
  return Array.from({ length: n }, (_, i) => Math.min(0.999, Math.max(0.001, (i % 2 ? 0.9 : 0.1) + (u() - 0.5) * 0.3)));
}
/** Unsure answers: most scores within 0.15 of the threshold. */
function unsure(n: number, seed: number): number[] {
  const u = uniform(seed);
  return Array.from({ length: n }, () => 0.35 + u() * 0.3);
}

const record = (i: number, score: number, at: number, modelVersion = VERSION, cached = false): PredictionRecord => ({
  requestId: `req-${i}`,
  receivedAt: at,
  imageSha256: i.toString(16).padStart(64, "0"),
  imageBytes: 20_000,
  score,
  prediction: score,
  modelVersion,
  cached,
  latencyMs: 40,
  callerHotkey: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
  callerUid: 3,
  dendriteUuid: undefined,
});

describe("drift-check Lambda against fauxqs S3/SQS", () => {
  let aws: Emulators;
  let queue = "";
  let deps: DriftCheckDeps;
  let metrics: CapturedMetrics;

  /** What the axon would have written: records through S3PredictionLog, dated by its clock. */
  async function axonDay(scores: number[], extra: PredictionRecord[] = []) {
    const at = NOW.getTime() - 3 * 3_600_000;
    const log = new S3PredictionLog({
      s3: aws.s3,
      bucket: PREDICTIONS,
      prefix: "raw/",
      logger: silentLogger,
      batchSize: 10_000,
      now: () => new Date(at),
    });
    for (const [i, s] of scores.entries()) log.append(record(i, s, at + i));
    for (const r of extra) log.append(r);
    await log.close();
  }
  const readJson = async (bucket: string, key: string) =>
    JSON.parse(await (await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString());
  const run = () => createDriftCheckHandler(() => deps)({});

  before(async () => {
    aws = await startEmulators();
  });
  after(() => aws.stop());
  beforeEach(async () => {
    aws.server.reset();
    aws.server.createBucket(MODELS);
    aws.server.createBucket(PREDICTIONS);
    queue = aws.server.createQueue("retrain-requests").queueUrl;
    metrics = new CapturedMetrics({ namespace: "RoadworkMiner", serviceName: "drift-check" });
    deps = {
      s3: aws.s3,
      sqs: aws.sqs,
      env: DriftCheckEnv.parse({
        MODELS_BUCKET: MODELS,
        PREDICTIONS_BUCKET: PREDICTIONS,
        RETRAIN_QUEUE_URL: queue,
        STAGE: "testnet",
      }),
      logger: capturedLogger().logger,
      metrics,
      now: () => NOW,
    };
    const pointer: PromotionPointer = {
      bundle: `s3://${MODELS}/models/pipeline/runs/r7/bundle/`,
      version: VERSION,
      promotedAt: "2026-03-01T00:00:00.000Z",
      runId: "r7",
    };
    await aws.s3.send(
      new PutObjectCommand({ Bucket: MODELS, Key: "models/current.json", Body: JSON.stringify(pointer) }),
    );
    const evaluation = {
      setId: "e".repeat(64),
      items: confident(400, 1).map((_, i) => ({ label: i % 2, format: "crop-224" })),
      challenger: { version: VERSION, source: pointer.bundle, scores: confident(400, 1) },
    };
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: MODELS,
        Key: "models/pipeline/runs/r7/evaluation.json",
        Body: JSON.stringify(evaluation),
      }),
    );
  });

  it("a day like the evaluation set is stable: figures published, no retrain request", async () => {
    await axonDay(confident(500, 2));
    const out = await run();
    assert.equal(out.outcome, "checked");
    assert.equal(out.outcome === "checked" && out.status, "stable");
    assert.equal((await drainQueue(aws.sqs, queue)).length, 0);
    const day = await readJson(MODELS, "models/pipeline/drift/2026-03-10.json");
    assert.equal(day.report.live.count, 500);
    assert.ok(day.report.psi < 0.1, `PSI ${day.report.psi}`);
    assert.equal(metrics.values("DriftDetected")[0], 0);
    assert.equal(metrics.values("LivePredictions")[0], 500);
  });

  it("answers crowding the threshold are drift: one retrain request per day, report + SVG recorded", async () => {
    // Other versions, cached repeats and records older than a day are not today's live distribution of this model.
    const old = NOW.getTime() - 30 * 3_600_000;
    await axonDay(unsure(300, 3), [
      record(9001, 0.9, NOW.getTime() - 3_600_000, "roadwork@1.1.0"),
      record(9002, 0.5, NOW.getTime() - 3_600_000, VERSION, true),
      record(9003, 0.05, old),
    ]);
    const first = await run();
    assert.deepEqual(first.outcome === "checked" && [first.status, first.retrainRequested], ["drift", true]);
    const [message] = await drainQueue(aws.sqs, queue);
    const request = RetrainRequest.parse(JSON.parse(message!.body));
    assert.equal(request.reason, "drift");
    assert.equal(request.currentVersion, "1.2.0");
    assert.equal(request.requestedAt, NOW.toISOString());
    assert.equal(executionName(request), "drift-2026-03-10");
    const day = await readJson(MODELS, "models/pipeline/drift/2026-03-10.json");
    assert.equal(day.report.live.count, 300);
    assert.deepEqual([day.records.otherVersion, day.records.cached], [1, 1]);
    assert.ok(day.report.psi >= 0.2 && day.report.live.nearShare > 0.6, JSON.stringify(day.report));
    assert.match(day.report.reasons.join("; "), /PSI .* ≥ 0.2/);
    const svg = await (
      await aws.s3.send(new GetObjectCommand({ Bucket: MODELS, Key: "models/pipeline/drift/2026-03-10.svg" }))
    ).Body!.transformToString();
    assert.match(svg, /^<svg[\s\S]*DRIFT: PSI/);
    assert.ok(metrics.values("DriftPsi")[0]! >= 0.2);

    // The schedule's retry (or a second run) the same day sends nothing new.
    const again = await run();
    assert.equal(again.outcome === "checked" && again.retrainRequested, false);
    assert.equal((await drainQueue(aws.sqs, queue)).length, 0);
  });

  it("a quiet day is insufficient, never drift; a model without an evaluation record is not judged", async () => {
    await axonDay(unsure(50, 4));
    const quiet = await run();
    assert.equal(quiet.outcome === "checked" && quiet.status, "insufficient");
    assert.equal((await drainQueue(aws.sqs, queue)).length, 0);
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: MODELS,
        Key: "models/current.json",
        Body: JSON.stringify({ bundle: "s3://x/demo/", version: "roadwork-demo@1.0.0", promotedAt: NOW.toISOString() }),
      }),
    );
    assert.deepEqual(await run(), { outcome: "no-reference", modelVersion: "roadwork-demo@1.0.0" });
  });

  it("the statistics: identical distributions give 0, disjoint ones a large PSI and KS 1", () => {
    const same = measureDrift(confident(400, 1), confident(400, 1));
    assert.deepEqual([same.psi, same.ks, same.nearShareDelta, same.status], [0, 0, 0, "stable"]);
    const apart = measureDrift(
      Array.from({ length: 300 }, () => 0.05),
      Array.from({ length: 300 }, () => 0.95),
    );
    assert.equal(apart.ks, 1);
    assert.ok(apart.psi > 10, String(apart.psi));
    assert.equal(apart.status, "drift");
  });
});
