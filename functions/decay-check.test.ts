import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { DecayPolicy, type ModelRecord, RetrainRequest } from "@roadwork/lifecycle";
import {
  CapturedMetrics,
  capturedLogger,
  drainQueue,
  type Emulators,
  lambdaContext,
  startEmulators,
} from "../packages/lifecycle/test/support/aws-emulators.ts";
import { createDecayCheckHandler, type DecayCheckDeps, DecayCheckEnv, handler } from "./decay-check.ts";

const DAY_MS = 86_400_000;
const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z
const BUCKET = "roadwork-models-decay";

const record: ModelRecord = {
  schemaVersion: 1,
  version: "1.3.0",
  bundlePrefix: "models/bundles/1.3.0/",
  hfRepo: "roadwork-test/streetvision",
  hfCommitSha: "a".repeat(40),
  submissionTime: T0,
  submittedBy: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
  registration: { status: "succeeded", uid: 10, registeredAt: T0 },
  updatedAt: "2026-01-01T00:00:00.000Z",
};

describe("decay-check Lambda against the S3/SNS/SQS emulator", () => {
  let aws: Emulators;
  let alertSink = "";
  let retrainQueue = "";
  let topicArn = "";
  let now = new Date(T0 * 1000);
  let metrics: CapturedMetrics;
  let deps: DecayCheckDeps;

  before(async () => {
    aws = await startEmulators();
    aws.server.createBucket(BUCKET);
    topicArn = aws.server.createTopic("decay-alerts").topicArn;
    alertSink = aws.server.createQueue("decay-alert-sink").queueUrl;
    aws.server.subscribe({ topic: "decay-alerts", queue: "decay-alert-sink" });
    retrainQueue = aws.server.createQueue("retrain-requests").queueUrl;
  });
  after(() => aws.stop());
  beforeEach(async () => {
    aws.server.reset();
    metrics = new CapturedMetrics({ namespace: "RoadworkMiner", serviceName: "decay-check" });
    const env = DecayCheckEnv.parse({
      MODELS_BUCKET: BUCKET,
      ALERT_TOPIC_ARN: topicArn,
      RETRAIN_QUEUE_URL: retrainQueue,
      STAGE: "testnet",
    });
    deps = {
      s3: aws.s3,
      sns: aws.sns,
      sqs: aws.sqs,
      env,
      policy: new DecayPolicy(),
      now: () => now,
      logger: capturedLogger().logger,
      metrics,
    };
  });

  it("without a record it does nothing", async () => {
    const out = await createDecayCheckHandler(() => deps)({}, lambdaContext("decay-check"));
    assert.deepEqual(out, { outcome: "no-record" });
  });

  it("over simulated days 0..95 fires every alert exactly once on its day and one retrain request", async () => {
    await aws.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "models/submission.json", Body: JSON.stringify(record) }),
    );
    const handler = createDecayCheckHandler(() => deps);
    const firedOn = new Map<string, number[]>();
    const retrainsOn: number[] = [];
    for (let day = 0; day <= 95; day++) {
      now = new Date(T0 * 1000 + day * DAY_MS + 3_600_000); // the daily rule fires at 01:00 UTC
      const out = await handler({ "detail-type": "Scheduled Event" }, lambdaContext("decay-check"));
      assert.equal(out.outcome, "checked");
      for (const m of await drainQueue(aws.sqs, alertSink)) {
        const envelope = JSON.parse(m.body) as {
          Subject?: string;
          Message: string;
          MessageAttributes?: Record<string, { Value: string }>;
        };
        const id = envelope.MessageAttributes?.alertId?.Value ?? "?";
        firedOn.set(id, [...(firedOn.get(id) ?? []), day]);
        assert.match(envelope.Subject ?? "", /^\[roadwork testnet\] model 1\.3\.0: /);
        assert.match(envelope.Message, /Reward factor: /);
      }
      for (const m of await drainQueue(aws.sqs, retrainQueue)) {
        const req = RetrainRequest.parse(JSON.parse(m.body));
        assert.equal(req.submissionTime, T0);
        assert.equal(req.decayStartsAt, "2026-02-15T00:00:00.000Z");
        retrainsOn.push(day);
      }
    }
    const expected = new Map(new DecayPolicy().alerts.map((a) => [a.id, [Math.ceil(a.day - 1 / 24)]]));
    assert.deepEqual(Object.fromEntries(firedOn), Object.fromEntries(expected));
    assert.deepEqual(Object.fromEntries(firedOn), {
      "pre-decay-21d": [24],
      "pre-decay-14d": [31],
      "pre-decay-7d": [38],
      "pre-decay-3d": [42],
      "decay-started": [45],
      "factor-90": [50],
      "factor-80": [54],
      "factor-70": [59],
      "factor-60": [63],
      "factor-50": [68],
      "factor-40": [72],
      "factor-30": [77],
      "factor-20": [81],
      "factor-10": [86],
      "reward-zero": [90],
    });
    assert.deepEqual(retrainsOn, [35]);
    // DaysUntilDecay went out every day: 45 days before, 0 after.
    const days = metrics.values("DaysUntilDecay");
    assert.equal(days.length, 96);
    assert.equal(days[0], 44.958);
    assert.equal(days[44], 0.958);
    assert.equal(days[95], 0);
    // The ledger sits beside the record, keyed by submission_time.
    const ledger = await aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `models/alerts-${T0}.json` }));
    const parsed = JSON.parse(await ledger.Body!.transformToString()) as {
      sent: unknown[];
      retrainRequestedAt: string;
    };
    assert.equal(parsed.sent.length, 15);
    assert.ok(parsed.retrainRequestedAt);
  });

  it("a missed week sends every crossed alert once; a new submission starts a fresh ledger", async () => {
    await aws.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "models/submission.json", Body: JSON.stringify(record) }),
    );
    const handler = createDecayCheckHandler(() => deps);
    now = new Date(T0 * 1000 + 40 * DAY_MS);
    const first = await handler({}, lambdaContext("decay-check"));
    assert.deepEqual(first.outcome === "checked" && first.alertsSent, [
      "pre-decay-21d",
      "pre-decay-14d",
      "pre-decay-7d",
    ]);
    assert.equal(first.outcome === "checked" && first.retrainRequested, true);
    const again = await handler({}, lambdaContext("decay-check"));
    assert.deepEqual(again.outcome === "checked" && again.alertsSent, []);
    assert.equal(again.outcome === "checked" && again.retrainRequested, false);
    assert.equal((await drainQueue(aws.sqs, retrainQueue)).length, 1);

    const renewed = { ...record, version: "1.4.0", submissionTime: T0 + 40 * 86_400 };
    await aws.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "models/submission.json", Body: JSON.stringify(renewed) }),
    );
    const fresh = await handler({}, lambdaContext("decay-check"));
    assert.equal(fresh.outcome === "checked" && fresh.status.daysSinceSubmission, 0);
    assert.deepEqual(fresh.outcome === "checked" && fresh.alertsSent, []);
  });

  it("the deployed handler fails fast, naming the missing configuration", async () => {
    await assert.rejects(handler({}, lambdaContext("decay-check")), /decay-check is misconfigured \(MODELS_BUCKET: /);
  });

  it("rejects a malformed record with a clear error", async () => {
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: "models/submission.json",
        Body: JSON.stringify({ ...record, submissionTime: "soon" }),
      }),
    );
    await assert.rejects(
      createDecayCheckHandler(() => deps)({}, lambdaContext("decay-check")),
      /models\/submission\.json does not match its schema/,
    );
  });
});
