import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady, mnemonicGenerate } from "@polkadot/util-crypto";
import { loadHotkeyFromSecret } from "@roadwork/chain/hotkey-secret";
import { ModelCard, ModelRecord } from "@roadwork/lifecycle";
import {
  CapturedMetrics,
  capturedLogger,
  drainQueue,
  type Emulators,
  lambdaContext,
  sqsEvent,
  startEmulators,
} from "../packages/lifecycle/test/support/aws-emulators.ts";
import { FakeNatix } from "../packages/lifecycle/test/support/fake-natix.ts";
import { FakeSecretsManager } from "../packages/lifecycle/test/support/fake-secrets-manager.ts";
import { tinyRoadworkOnnx } from "../packages/lifecycle/test/support/tiny-onnx.ts";
import { FakeHub } from "../test/support/fake-hub.ts";
import { checkpointKey, createPublishModelHandler, type PublishModelDeps, PublishModelEnv } from "./publish-model.ts";

await cryptoWaitReady();
const BUCKET = "roadwork-models-publish";
const HF_TOKEN = "hf_publishTOKENabcdefghijklmnop";
const HF_SECRET = "arn:aws:secretsmanager:us-east-1:000000000000:secret:roadwork/testnet/hf-token";
const KEY_SECRET = "arn:aws:secretsmanager:us-east-1:000000000000:secret:roadwork/testnet/hotkey";
const MNEMONIC = mnemonicGenerate(12);
const hotkey = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri(MNEMONIC);
const onnx = tinyRoadworkOnnx();
const metricsJson = JSON.stringify({ accuracy: 0.91, mcc: 0.82, note: "real-only test split" });

describe("publish-model Lambda: promoted bundle -> Hugging Face -> NATIX -> record", () => {
  let aws: Emulators;
  let hub: FakeHub;
  let natix: FakeNatix;
  let sm: FakeSecretsManager;
  let secrets: SecretsManagerClient;
  let queueUrl = "";
  let queueArn = "";
  let noticeSink = "";
  let topicArn = "";
  let logLines: string[];
  let metrics: CapturedMetrics;
  let deps: PublishModelDeps;

  const putBundle = async (version: string, files: Record<string, Uint8Array | string>) => {
    for (const [name, body] of Object.entries(files)) {
      await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `models/bundles/${version}/${name}`, Body: body }));
    }
  };
  const deliver = async (bodies: unknown[]) => {
    for (const b of bodies) {
      await aws.sqs.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: typeof b === "string" ? b : JSON.stringify(b) }),
      );
    }
    const msgs = await drainQueue(aws.sqs, queueUrl);
    assert.equal(msgs.length, bodies.length);
    return createPublishModelHandler(() => deps)(sqsEvent(msgs, queueArn), lambdaContext("publish-model"));
  };
  const request = (version: string, repo = "roadwork-test/streetvision") => ({
    bundlePrefix: `models/bundles/${version}/`,
    version,
    repo,
    uid: 10,
    modelName: "roadwork-streetvision",
  });
  const readRecord = async () => {
    const res = await aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "models/submission.json" }));
    return ModelRecord.parse(JSON.parse(await res.Body!.transformToString()));
  };

  before(async () => {
    aws = await startEmulators();
    aws.server.createBucket(BUCKET);
    const q = aws.server.createQueue("publish-requests");
    queueUrl = q.queueUrl;
    queueArn = q.queueArn;
    topicArn = aws.server.createTopic("operator-alerts").topicArn;
    noticeSink = aws.server.createQueue("operator-alert-sink").queueUrl;
    aws.server.subscribe({ topic: "operator-alerts", queue: "operator-alert-sink" });
    hub = await new FakeHub().start();
    hub.addToken(HF_TOKEN, { user: "alice", role: "write", orgs: ["roadwork-test"] });
    natix = await new FakeNatix().start();
    sm = await new FakeSecretsManager().start();
    sm.secrets.set(HF_SECRET, JSON.stringify({ token: HF_TOKEN }));
    sm.secrets.set(KEY_SECRET, JSON.stringify({ mnemonic: MNEMONIC }));
    secrets = new SecretsManagerClient({
      endpoint: sm.url,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    await putBundle("1.0.0", {
      "model.onnx": onnx,
      "metrics.json": metricsJson,
      "calibration.json": '{"threshold":0.47}',
    });
  });
  after(async () => {
    secrets.destroy();
    await Promise.all([aws.stop(), hub.stop(), natix.stop(), sm.stop()]);
  });
  beforeEach(() => {
    const captured = capturedLogger();
    logLines = captured.lines;
    metrics = new CapturedMetrics({ namespace: "RoadworkMiner", serviceName: "publish-model" });
    hub.clearFaults();
    natix.statusScript = [{ status: "pending" }, { status: "succeeded" }];
    deps = {
      s3: aws.s3,
      secrets,
      sns: aws.sns,
      fetch,
      env: PublishModelEnv.parse({
        MODELS_BUCKET: BUCKET,
        HF_TOKEN_SECRET_ARN: HF_SECRET,
        HOTKEY_SECRET_ARN: KEY_SECRET,
        HF_ENDPOINT: hub.url,
        NATIX_BASE_URL: natix.url,
        NATIX_POLL_INTERVAL_MS: "5",
        NATIX_DEADLINE_MS: "2000",
        ALERT_TOPIC_ARN: topicArn,
      }),
      loadHotkey: loadHotkeyFromSecret,
      now: () => new Date(),
      logger: captured.logger,
      metrics,
      hubRetry: { baseDelayMs: 1, timeoutMs: 2000 },
    };
  });

  it("publishes a verified public repo, registers with NATIX, and writes the record", async () => {
    const res = await deliver([request("1.0.0")]);
    assert.deepEqual(res.batchItemFailures, []);

    const repo = "roadwork-test/streetvision";
    assert.equal(hub.repos.get(repo)?.private, false);
    const files = hub.headFiles(repo)!;
    assert.deepEqual([...files.keys()].sort(), [
      ".gitattributes",
      "README.md",
      "calibration.json",
      "metrics.json",
      "model.onnx",
      "model_card.json",
    ]);
    assert.equal(files.get("model.onnx")?.lfs, true);
    assert.deepEqual(files.get("model.onnx")?.content, onnx);
    const card = ModelCard.parse(JSON.parse(new TextDecoder().decode(files.get("model_card.json")!.content)));
    assert.equal(card.submitted_by, hotkey.address);
    assert.equal(card.version, "1.0.0");
    assert.match(new TextDecoder().decode(files.get("README.md")!.content), /\| mcc \| 0\.8200 \|/);

    assert.equal(natix.registrations.length, 1);
    assert.equal(natix.registrations[0]?.model_repo, repo);
    assert.equal(natix.registrations[0]?.natix_public_key, hotkey.address);
    assert.deepEqual(natix.rejected, []);

    const record = await readRecord();
    assert.equal(record.version, "1.0.0");
    assert.equal(record.submissionTime, card.submission_time);
    assert.equal(record.hfCommitSha, hub.repos.get(repo)!.commits.at(-1)!.oid);
    assert.equal(record.registration.status, "succeeded");
    assert.equal(metrics.values("ModelPublished")[0], 1);
    const notices = await drainQueue(aws.sqs, noticeSink);
    assert.equal(notices.length, 1);
    assert.match(JSON.parse(notices[0]!.body).Subject, /model 1\.0\.0 published and registered/);
    assert.equal(metrics.values("NatixRegistered")[0], 1);
  });

  it("is idempotent: a redelivered message publishes and registers nothing again", async () => {
    const commits = hub.commitCount("roadwork-test/streetvision");
    const registrations = natix.registrations.length;
    const before = await readRecord();
    const res = await deliver([request("1.0.0")]);
    assert.deepEqual(res.batchItemFailures, []);
    assert.equal(hub.commitCount("roadwork-test/streetvision"), commits);
    assert.equal(natix.registrations.length, registrations);
    assert.deepEqual(await readRecord(), before);
    assert.deepEqual(await drainQueue(aws.sqs, noticeSink), []);
  });

  it("reports only the bad records of a batch as failures", async () => {
    await putBundle("1.1.0", { "model.onnx": onnx.slice(), "metrics.json": metricsJson });
    const res = await deliver([request("1.1.0"), "{not json", { ...request("1.2.0"), repo: "no-slash" }]);
    assert.equal(res.batchItemFailures.length, 2);
    const record = await readRecord();
    assert.equal(record.version, "1.1.0");
  });

  it("a NATIX failure fails the record; the retry resumes at registration without a new HF commit", async () => {
    await putBundle("1.3.0", { "model.onnx": onnx, "notes.txt": "v1.3.0" });
    natix.statusScript = [
      { status: "pending" },
      { status: "failed", error_message: "hotkey not registered on subnet" },
    ];
    const failed = await deliver([request("1.3.0")]);
    assert.equal(failed.batchItemFailures.length, 1);
    assert.ok(logLines.some((l) => l.includes("hotkey not registered on subnet")));
    assert.equal((await readRecord()).version, "1.1.0");
    const cp = JSON.parse(
      await (
        await aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: checkpointKey("1.3.0") }))
      ).Body!.transformToString(),
    ) as { step: string; lastError?: string };
    assert.equal(cp.step, "published");
    assert.match(cp.lastError ?? "", /hotkey not registered/);

    const commits = hub.commitCount("roadwork-test/streetvision");
    natix.statusScript = [{ status: "succeeded" }];
    const retried = await deliver([request("1.3.0")]);
    assert.deepEqual(retried.batchItemFailures, []);
    assert.equal(hub.commitCount("roadwork-test/streetvision"), commits);
    assert.equal((await readRecord()).version, "1.3.0");
  });

  it("refuses to reuse a version for a different bundle", async () => {
    const res = await deliver([{ ...request("1.3.0"), bundlePrefix: "models/bundles/other/" }]);
    assert.equal(res.batchItemFailures.length, 1);
    assert.ok(logLines.some((l) => l.includes("already published from models/bundles/1.3.0/")));
  });

  it("a read-only HF token fails with advice, and neither secret reaches the logs", async () => {
    const READ = "hf_readonlyTOKENabcdefghijklmn";
    hub.addToken(READ, { user: "alice", role: "read" });
    sm.secrets.set(HF_SECRET, READ);
    await putBundle("1.4.0", { "model.onnx": onnx });
    try {
      const res = await deliver([request("1.4.0")]);
      assert.equal(res.batchItemFailures.length, 1);
      assert.ok(logLines.some((l) => l.includes("Create a token with the")));
    } finally {
      sm.secrets.set(HF_SECRET, JSON.stringify({ token: HF_TOKEN }));
    }
    const all = logLines.join("\n");
    assert.ok(!all.includes(READ) && !all.includes(HF_TOKEN));
    assert.ok(!all.includes(MNEMONIC.split(" ").slice(0, 4).join(" ")));
  });
});
