// The daily capture export against fauxqs S3/SNS with the real SDK clients: challenges written by the axon's own
// S3CaptureStore join the dataset store as a new version, datasets/latest/manifest.json follows it, the serving bundle
// (a real tiny ONNX bundle in the models bucket) mines the unlabelled ones into a labelling batch and the operator is
// told; a second run adds nothing and mines nothing; a record without its image is reported without stopping the rest.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { LabellingBatchSchema, s3DatasetStore } from "@roadwork/data";
import { type CaptureRecord, S3CaptureStore } from "@roadwork/miner";
import { LATEST_DATASET_KEY, S3Store, uploadDir } from "@roadwork/pipeline";
import sharp from "sharp";
import { writeTinyBundle } from "../packages/inference/test/bundles.ts";
import {
  CapturedMetrics,
  capturedLogger,
  drainQueue,
  type Emulators,
  startEmulators,
} from "../packages/lifecycle/test/support/aws-emulators.ts";
import { type CaptureExportDeps, CaptureExportEnv, createCaptureExportHandler } from "./capture-export.ts";

const DATASETS = "roadwork-datasets-export";
const MODELS = "roadwork-models-export";

async function challenge(i: number): Promise<Uint8Array> {
  const px = Buffer.alloc(224 * 224 * 3);
  for (let p = 0; p < px.length; p++) px[p] = (p * (i + 3) + ((p / 672) | 0) * (i + 1) * 17) & 255;
  return new Uint8Array(
    await sharp(px, { raw: { width: 224, height: 224, channels: 3 } })
      .jpeg({ quality: 75 })
      .toBuffer(),
  );
}

function record(image: Uint8Array, i: number, testnetLabel: 0 | 1 | null): CaptureRecord {
  const sha256 = createHash("sha256").update(image).digest("hex");
  return {
    schemaVersion: 1,
    sha256,
    file: `${sha256}.jpg`,
    mediaType: "image/jpeg",
    width: 224,
    height: 224,
    byteLength: image.byteLength,
    capturedAt: `2026-03-09T1${i}:00:00.000Z`,
    requestId: `req-${i}`,
    score: 0.48 + i / 100,
    prediction: 0.48 + i / 100,
    modelVersion: "roadwork@1.2.0",
    callerHotkey: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
    callerUid: 3,
    validatorFormat: "crop-224",
    testnetLabel,
    reason: "near-threshold",
  };
}

describe("capture-export Lambda against fauxqs S3", () => {
  let aws: Emulators;
  let deps: CaptureExportDeps;
  let inbox = "";
  const run = () => createCaptureExportHandler(() => deps)({});

  before(async () => {
    aws = await startEmulators();
    aws.server.createBucket(DATASETS);
    aws.server.createBucket(MODELS);
    const topicArn = aws.server.createTopic("operator").topicArn;
    inbox = aws.server.createQueue("operator-inbox").queueUrl;
    aws.server.subscribe({ topic: "operator", queue: "operator-inbox" });
    // The serving model: a real (tiny) bundle promoted into the pipeline store.
    const dir = await mkdtemp(join(tmpdir(), "roadwork-export-bundle-"));
    await writeTinyBundle(dir, { version: "1.2.0", seeds: [3, 4] });
    await uploadDir(new S3Store(aws.s3, MODELS, "models/pipeline/"), dir, "runs/r1/bundle/");
    await rm(dir, { recursive: true, force: true });
    await new S3Store(aws.s3, MODELS, "models/").putJson("current.json", {
      bundle: `s3://${MODELS}/models/pipeline/runs/r1/bundle/`,
      version: "tiny@1.2.0",
      promotedAt: "2026-03-01T00:00:00.000Z",
      runId: "r1",
    });
    deps = {
      s3: aws.s3,
      sns: aws.sns,
      env: CaptureExportEnv.parse({
        DATASETS_BUCKET: DATASETS,
        MODELS_BUCKET: MODELS,
        MINING_BUDGET: "2",
        ALERT_TOPIC_ARN: topicArn,
      }),
      logger: capturedLogger().logger,
      metrics: new CapturedMetrics({ namespace: "RoadworkMiner", serviceName: "capture-export" }),
      now: () => new Date("2026-03-10T00:15:00.000Z"),
    };
  });
  after(() => aws.stop());

  it("imports the day's captures into a new version and points datasets/latest at it, once", async () => {
    const captures = new S3CaptureStore({ s3: aws.s3, bucket: DATASETS });
    const labels: (0 | 1 | null)[] = [1, 0, 1, 0, null, null];
    for (const [i, label] of labels.entries()) {
      const image = await challenge(i);
      await captures.put(record(image, i, label), image);
    }
    // A record whose image never arrived (the axon's write was cut off between the two objects).
    const orphan = record(await challenge(9), 9, 1);
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: DATASETS,
        Key: `captures/2026/03/09/${orphan.sha256}.json`,
        Body: JSON.stringify(orphan),
      }),
    );

    const first = await run();
    assert.deepEqual(first.captures, { seen: 7, added: 6, alreadyPresent: 0, errors: 1 });
    const version = await s3DatasetStore(aws.s3, DATASETS, "dataset/").latestVersion();
    assert.equal(first.version, version?.id);
    assert.equal(version?.records.filter((r) => r.source === "captured").length, 6);
    assert.equal(version?.records.filter((r) => r.labelSource === "testnet-label").length, 4);
    assert.equal(first.latest?.written, true);
    const latest = await new S3Store(aws.s3, MODELS, "models/pipeline/").getJson<{
      datasetVersion: string;
      imageRoot: string;
      records: { sha256: string }[];
    }>(LATEST_DATASET_KEY);
    assert.equal(latest?.datasetVersion, version?.id);
    assert.equal(latest?.imageRoot, `s3://${DATASETS}/dataset/`);
    assert.equal(latest?.records.length, 4, "the labelled captures are trainable; the unlabelled wait for labels");

    // The two unlabelled captures were mined with the serving bundle; the batch waits for `roadwork label`.
    assert.ok("batch" in first.mining, JSON.stringify(first.mining));
    const mined = first.mining as { batch: string; cases: number; candidates: number; modelVersion: string };
    assert.deepEqual([mined.cases, mined.candidates, mined.modelVersion], [2, 2, "tiny@1.2.0"]);
    const batch = LabellingBatchSchema.parse(
      await new S3Store(aws.s3, DATASETS, "dataset/").getJson(`labelling/${mined.batch}.json`),
    );
    assert.equal(batch.datasetVersion, version?.id);
    const unlabelled = new Set(version!.records.filter((r) => r.label === null).map((r) => r.sha256));
    assert.ok(batch.items.every((i) => unlabelled.has(i.sha256)));
    const [mail] = (await drainQueue(aws.sqs, inbox)).map((m) => JSON.parse(m.body));
    assert.match(mail.Message, new RegExp(`roadwork label --data s3://${DATASETS}/dataset/ --batch ${mined.batch}`));

    const second = await run();
    assert.deepEqual(second.captures, { seen: 7, added: 0, alreadyPresent: 6, errors: 1 });
    assert.equal(second.version, first.version);
    assert.deepEqual(second.latest, { written: false, id: first.version, reason: "unchanged" });
    assert.deepEqual(second.mining, { skipped: "no new captures" });
    assert.equal((await drainQueue(aws.sqs, inbox)).length, 0);
  });
});
