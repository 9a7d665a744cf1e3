import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { type PredictionRecord, silentLogger } from "@roadwork/miner";
import { type FauxqsServer, startFauxqs } from "fauxqs";
import { S3PredictionLog } from "./prediction-log.ts";

let server: FauxqsServer;
let s3: S3Client;
const credentials = { accessKeyId: "test", secretAccessKey: "test" };

before(async () => {
  server = await startFauxqs({ port: 0, logger: false });
  s3 = new S3Client({ endpoint: server.address, region: "us-east-1", credentials, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: "predictions" }));
});
after(async () => {
  s3.destroy();
  await server.stop();
});

const record = (i: number): PredictionRecord => ({
  requestId: `req-${i}`,
  receivedAt: 1_763_780_000_000 + i,
  imageSha256: "ab".repeat(32),
  imageBytes: 21_000 + i,
  score: 0.8,
  prediction: 0.8,
  modelVersion: "demo-1",
  cached: false,
  latencyMs: 12,
  callerHotkey: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
  callerUid: 3,
  dendriteUuid: undefined,
});

test("records land as JSON Lines under <prefix>YYYY/MM/DD/, one object per batch", async () => {
  const log = new S3PredictionLog({
    s3,
    bucket: "predictions",
    prefix: "raw/",
    logger: silentLogger,
    batchSize: 3,
    now: () => new Date("2026-11-22T03:04:05Z"),
  });
  for (let i = 0; i < 4; i++) log.append(record(i));
  await log.close();
  assert.equal(log.written, 4);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: "predictions", Prefix: "raw/2026/11/22/" }));
  const keys = (listed.Contents ?? []).map((o) => o.Key ?? "").sort();
  assert.equal(keys.length, 2);
  const lines: PredictionRecord[] = [];
  for (const Key of keys) {
    assert.match(Key, /^raw\/2026\/11\/22\/2026-11-22T030405\.000Z-[0-9a-f-]{36}\.jsonl$/);
    const body = await (await s3.send(new GetObjectCommand({ Bucket: "predictions", Key }))).Body?.transformToString();
    lines.push(
      ...(body ?? "")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as PredictionRecord),
    );
  }
  assert.deepEqual(lines.map((r) => r.requestId).sort(), ["req-0", "req-1", "req-2", "req-3"]);
});

test("an unreachable bucket keeps a bounded buffer and retries on the next flush", async () => {
  const log = new S3PredictionLog({
    s3,
    bucket: "no-such-bucket",
    prefix: "raw/",
    logger: silentLogger,
    batchSize: 1000,
    maxBuffered: 5,
  });
  for (let i = 0; i < 8; i++) log.append(record(i));
  assert.equal(log.dropped, 3);
  await log.flush();
  assert.equal(log.written, 0);
  assert.equal(log.pending, 5);
  await s3.send(new CreateBucketCommand({ Bucket: "no-such-bucket" }));
  await log.close();
  assert.equal(log.written, 5);
  assert.equal(log.pending, 0);
});
