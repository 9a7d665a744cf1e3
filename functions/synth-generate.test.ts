// The synth-generate Lambda from the queue: fauxqs S3/SQS/SNS with the real SDK clients, the loopback Bedrock for the
// images. A batch lands in the dataset store as a new version with its report; the same message delivered twice is
// generated and charged once; the budget stops a batch mid-way with one SNS alert; a bad message fails alone.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BedrockClient } from "@aws-sdk/client-bedrock";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { type Synth, s3DatasetStore } from "@roadwork/data";
import {
  CapturedMetrics,
  capturedLogger,
  drainQueue,
  type Emulators,
  lambdaContext,
  sqsEvent,
  startEmulators,
} from "../packages/lifecycle/test/support/aws-emulators.ts";
import { FakeBedrock } from "../test/support/fake-bedrock.ts";
import { FakeImageModels } from "../test/support/fake-bedrock-images.ts";
import { createSynthGenerateHandler, type SynthGenerateDeps, SynthGenerateEnv } from "./synth-generate.ts";

const BUCKET = "roadwork-datasets-synth";
const CORE = "bedrock:stability.stable-image-core-v1:1";
const SD35 = "bedrock:stability.sd3-5-large-v1:0";

describe("synth-generate Lambda: queue -> Bedrock -> gates -> dataset version", () => {
  let aws: Emulators;
  let fake: FakeBedrock;
  let models: FakeImageModels;
  let queueUrl = "";
  let queueArn = "";
  let alertSink = "";
  let deps: SynthGenerateDeps;
  let metrics: CapturedMetrics;
  let logLines: string[] = [];

  before(async () => {
    aws = await startEmulators();
    aws.server.createBucket(BUCKET);
    const q = aws.server.createQueue("synth-requests");
    queueUrl = q.queueUrl;
    queueArn = q.queueArn;
    const topicArn = aws.server.createTopic("operator-alerts").topicArn;
    alertSink = aws.server.createQueue("alert-sink").queueUrl;
    aws.server.subscribe({ topic: "operator-alerts", queue: "alert-sink" });
    fake = await FakeBedrock.start();
    models = new FakeImageModels().install(fake);
    metrics = new CapturedMetrics({ namespace: "RoadworkMiner", serviceName: "synth-generate" });
    deps = {
      s3: aws.s3,
      sns: aws.sns,
      bedrockRuntime: new BedrockRuntimeClient({ ...fake.clientConfig(), maxAttempts: 1 }),
      bedrockControl: new BedrockClient({ ...fake.clientConfig(), maxAttempts: 1 }),
      env: SynthGenerateEnv.parse({
        STAGE: "testnet",
        DATASETS_BUCKET: BUCKET,
        SYNTH_GENERATOR: CORE,
        SYNTH_ALLOWED_GENERATORS: `${CORE},${SD35}`,
        SYNTH_DAY_BUDGET_USD: "0.5",
        SYNTH_MONTH_BUDGET_USD: "10",
        ALERT_TOPIC_ARN: topicArn,
      }),
      logger: (() => {
        const c = capturedLogger();
        logLines = c.lines;
        return c.logger;
      })(),
      metrics,
      retry: { attempts: 3, baseDelayMs: 5 },
    };
    // The weekly batch aims at mined hard cases.
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: "mining/hard-cases.json",
        Body: JSON.stringify([
          { id: "orange-van", description: "an orange delivery van parked at the curb", label: 0 },
        ]),
      }),
    );
  });
  after(async () => {
    deps.bedrockRuntime.destroy();
    deps.bedrockControl.destroy();
    await Promise.all([aws.stop(), fake.close()]);
  });

  const handler = () => createSynthGenerateHandler(() => deps);
  const deliver = async (bodies: unknown[]) => {
    for (const b of bodies) {
      await aws.sqs.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: typeof b === "string" ? b : JSON.stringify(b) }),
      );
    }
    const msgs = await drainQueue(aws.sqs, queueUrl);
    return handler()(sqsEvent(msgs, queueArn), lambdaContext("synth-generate"));
  };
  const store = () => s3DatasetStore(aws.s3, BUCKET, "dataset/");

  it("a weekly hard-case batch becomes a dataset version, with its report; a duplicate delivery is charged once", async () => {
    const message = { batchId: "weekly-2026-48", count: 4, target: "hard-cases" };
    const first = await deliver([message]);
    assert.deepEqual(
      first.batchItemFailures,
      [],
      JSON.stringify(logLines.filter((l) => l.includes("error")).slice(0, 3)),
    );
    const calls = models.calls.length;
    assert.equal(calls, 4);
    assert.ok(
      models.calls.every(
        (c) => String(c.body.prompt).includes("orange delivery van") && c.body.aspect_ratio === "16:9",
      ),
    );
    const version = (await store().latestVersion())!;
    const synthetic = version.records.filter((r) => r.source === "synthetic");
    assert.ok(synthetic.length >= 3, `accepted ${synthetic.length}`);
    assert.ok(synthetic.every((r) => r.label === 0 && r.details.generator === CORE));
    const report = await aws.s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: "synth/batches/weekly-2026-48/report.html" }),
    );
    assert.match(await report.Body!.transformToString(), /Synthetic batch/);

    const again = await deliver([message]);
    assert.deepEqual(again.batchItemFailures, []);
    assert.equal(models.calls.length, calls, "nothing generated twice");
    const ledger = JSON.parse(
      await (
        await aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "synth/ledger/testnet.json" }))
      ).Body!.transformToString(),
    );
    const charged = Object.values(ledger.entries as Record<string, { usd: number }>).reduce((s, e) => s + e.usd, 0);
    assert.equal(charged.toFixed(2), "0.16", "4 × $0.04, once");
    assert.equal((await store().latestVersion())!.id, version.id, "the redelivery commits nothing new");
  });

  it("stops at the day budget mid-batch with one SNS alert; a bad message fails alone", async () => {
    // $0.16 spent; $0.50 cap: 8 more Core images fit, the 9th does not.
    const res = await deliver([
      { batchId: "big", count: 12, mode: "t2i" },
      "not json",
      { batchId: "x", count: 1, generator: "bedrock:evil" },
    ]);
    assert.equal(res.batchItemFailures.length, 2);
    const alerts = await drainQueue(aws.sqs, alertSink);
    assert.equal(alerts.length, 1);
    assert.match(alerts[0]!.body, /budget reached: day cap \$0\.50, spent \$0\.48/);
    assert.ok(metrics.values("SynthBudgetStops").includes(1));
    assert.ok(metrics.values("SynthSpendUsd").some((v) => Math.abs(v - 0.32) < 1e-9));
    const report = await aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "synth/batches/big/batch.json" }));
    const batch = JSON.parse(await report.Body!.transformToString()) as {
      summary: ReturnType<typeof Synth.batchSummary>;
    };
    assert.equal(batch.summary.generated, 8);
    assert.equal(batch.summary.stopped?.reason, "budget");
  });
});
