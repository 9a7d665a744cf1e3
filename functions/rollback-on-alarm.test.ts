// The automatic rollback Lambda against fauxqs S3/SNS with the real SDK clients and real pointer files: an alarm
// inside the window after a promotion restores the previous pointer and tells the operator; outside it nothing moves;
// without a previous pointer the operator gets a clear message and nothing is lost; a redelivered alarm acts once.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { type PromotionPointer, rollbackDecisionKey } from "@roadwork/pipeline";
import {
  CapturedMetrics,
  capturedLogger,
  drainQueue,
  type Emulators,
  lambdaContext,
  startEmulators,
} from "../packages/lifecycle/test/support/aws-emulators.ts";
import { createRollbackHandler, type RollbackDeps, RollbackEnv } from "./rollback-on-alarm.ts";

const BUCKET = "roadwork-models-rollback";
const POINTER = "models/current.json";
const PROMOTED = "2026-03-02T10:00:00.000Z";

const demo: PromotionPointer = {
  bundle: "s3://b/models/bundles/demo/",
  version: "roadwork-demo@1.0.0",
  promotedAt: "2026-02-01T00:00:00.000Z",
};
const v110: PromotionPointer = {
  bundle: "s3://b/models/pipeline/runs/r1/bundle/",
  version: "roadwork@1.1.0",
  promotedAt: "2026-02-20T00:00:00.000Z",
  runId: "r1",
  previous: demo,
};
const v120: PromotionPointer = {
  bundle: "s3://b/models/pipeline/runs/r2/bundle/",
  version: "roadwork@1.2.0",
  promotedAt: PROMOTED,
  runId: "r2",
  previous: v110,
};

/** The event EventBridge delivers for an alarm transition (CloudWatch's `+0000` timestamp format included). */
function alarmEvent(alarmName: string, at: string, value = "ALARM") {
  const cw = at.replace("Z", "+0000");
  return {
    version: "0",
    id: `evt-${alarmName}-${at}`,
    "detail-type": "CloudWatch Alarm State Change",
    source: "aws.cloudwatch",
    account: "123456789012",
    time: at.replace(/\.\d+Z$/, "Z"),
    region: "us-east-1",
    resources: [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarmName}`],
    detail: {
      alarmName,
      state: {
        value,
        reason: "Threshold Crossed: 1 datapoint [0.31] was greater than the threshold (0.05).",
        timestamp: cw,
      },
      previousState: { value: "OK", reason: "", timestamp: cw },
      configuration: { description: "" },
    },
  };
}

const minutesAfter = (iso: string, minutes: number) => new Date(Date.parse(iso) + minutes * 60_000).toISOString();

describe("rollback-on-alarm Lambda against fauxqs S3/SNS", () => {
  let aws: Emulators;
  let topicArn = "";
  let inbox = "";
  let deps: RollbackDeps;
  let metrics: CapturedMetrics;

  const putPointer = (p: PromotionPointer) =>
    aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: POINTER, Body: `${JSON.stringify(p, null, 1)}\n` }));
  const readText = async (key: string) =>
    (await aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();
  const readPointer = async () => JSON.parse(await readText(POINTER)) as PromotionPointer;
  const run = (event: unknown) => createRollbackHandler(() => deps)(event, lambdaContext("rollback-on-alarm"));

  before(async () => {
    aws = await startEmulators();
  });
  after(() => aws.stop());
  beforeEach(() => {
    aws.server.reset();
    aws.server.createBucket(BUCKET);
    topicArn = aws.server.createTopic("operator").topicArn;
    inbox = aws.server.createQueue("operator-inbox").queueUrl;
    aws.server.subscribe({ topic: "operator", queue: "operator-inbox" });
    metrics = new CapturedMetrics({ namespace: "RoadworkMiner", serviceName: "rollback-on-alarm" });
    deps = {
      s3: aws.s3,
      sns: aws.sns,
      env: RollbackEnv.parse({ MODELS_BUCKET: BUCKET, ALERT_TOPIC_ARN: topicArn, STAGE: "testnet" }),
      logger: capturedLogger().logger,
      metrics,
      now: () => new Date("2026-03-02T11:00:00.000Z"),
    };
  });

  it("an alarm 45 min after a promotion restores the previous pointer, notifies and records the decision", async () => {
    await putPointer(v120);
    const at = minutesAfter(PROMOTED, 45);
    const out = await run(alarmEvent("roadwork-testnet-error-rate", at));
    assert.equal(out.outcome, "rolled-back");
    const now = await readPointer();
    assert.equal(now.version, "roadwork@1.1.0");
    assert.equal(now.bundle, v110.bundle);
    assert.deepEqual(now.previous, demo, "the chain below the restored pointer is intact");
    assert.deepEqual(now.rolledBack, {
      from: "roadwork@1.2.0",
      at: "2026-03-02T11:00:00.000Z",
      reason: "alarm roadwork-testnet-error-rate",
    });
    assert.equal(JSON.parse(await readText("models/previous.json")).version, "roadwork-demo@1.0.0");
    const recorded = JSON.parse(
      await readText(
        `models/pipeline/${rollbackDecisionKey({ alarmName: "roadwork-testnet-error-rate", at, reason: "" })}`,
      ),
    );
    assert.equal(recorded.outcome, "rolled-back");
    assert.equal(recorded.minutesAfterPromotion, 45);
    assert.equal(recorded.serving, "roadwork@1.2.0");
    const mails = (await drainQueue(aws.sqs, inbox)).map((m) => JSON.parse(m.body));
    assert.equal(mails.length, 1);
    assert.match(mails[0].Subject, /rolled back roadwork@1\.2\.0 → roadwork@1\.1\.0/);
    assert.match(mails[0].Message, /promoted 45\.0 min before the alarm/);
    assert.deepEqual(metrics.values("AutoRollbacks"), [1]);
  });

  it("an alarm delivered twice rolls back once", async () => {
    await putPointer(v120);
    const event = alarmEvent("roadwork-testnet-no-successful-answers", minutesAfter(PROMOTED, 30));
    const first = await run(event);
    const second = await run(event);
    assert.equal(first.outcome, "rolled-back");
    assert.equal(second.outcome, "rolled-back");
    assert.equal("repeated" in second && second.repeated, true);
    assert.equal((await readPointer()).version, "roadwork@1.1.0", "not rolled back a second time to the demo");
    // The other alarm firing a few minutes later sees a restored pointer and leaves it alone.
    const other = await run(alarmEvent("roadwork-testnet-error-rate", minutesAfter(PROMOTED, 40)));
    assert.equal(other.outcome, "already-rolled-back");
    assert.equal((await readPointer()).version, "roadwork@1.1.0");
    assert.equal((await drainQueue(aws.sqs, inbox)).length, 1, "one notification for one rollback");
    assert.deepEqual(metrics.values("AutoRollbacks"), [1]);
  });

  it("an alarm outside the window (or before the promotion) changes nothing", async () => {
    await putPointer(v120);
    const before = await readText(POINTER);
    const late = await run(alarmEvent("roadwork-testnet-error-rate", minutesAfter(PROMOTED, 121)));
    assert.equal(late.outcome, "outside-window");
    const early = await run(alarmEvent("roadwork-testnet-error-rate", minutesAfter(PROMOTED, -5)));
    assert.equal(early.outcome, "outside-window");
    assert.equal(await readText(POINTER), before);
    assert.equal((await drainQueue(aws.sqs, inbox)).length, 0);
    // The window is configurable.
    deps.env = { ...deps.env, ROLLBACK_WINDOW_MINUTES: 180 };
    assert.equal(
      (await run(alarmEvent("roadwork-testnet-error-rate", minutesAfter(PROMOTED, 150)))).outcome,
      "rolled-back",
    );
  });

  it("without a previous pointer: a clear message to the operator, the pointer untouched", async () => {
    const only: PromotionPointer = {
      bundle: "s3://b/models/bundles/first/",
      version: "roadwork@1.0.0",
      promotedAt: PROMOTED,
    };
    await putPointer(only);
    const before = await readText(POINTER);
    const out = await run(alarmEvent("roadwork-testnet-error-rate", minutesAfter(PROMOTED, 10)));
    assert.equal(out.outcome, "no-previous");
    assert.match(
      out.outcome === "no-previous" ? out.detail : "",
      /keeps no previous pointer to restore; the operator must act/,
    );
    assert.equal(await readText(POINTER), before);
    const [mail] = (await drainQueue(aws.sqs, inbox)).map((m) => JSON.parse(m.body));
    assert.match(mail.Subject, /cannot roll back roadwork@1\.0\.0: no previous model/);
    assert.match(mail.Message, /Nothing was changed/);
  });

  it("OK transitions and foreign events are not rollbacks", async () => {
    await putPointer(v120);
    assert.deepEqual(await run(alarmEvent("roadwork-testnet-error-rate", minutesAfter(PROMOTED, 5), "OK")), {
      outcome: "not-alarm",
      state: "OK",
    });
    await assert.rejects(run({ "detail-type": "Scheduled Event", detail: {} }), /not a CloudWatch alarm state change/);
    assert.equal((await readPointer()).version, "roadwork@1.2.0");
  });
});
