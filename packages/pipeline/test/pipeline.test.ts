// The retraining state machine end to end on this machine: the same definition the stack deploys, every task mapped
// to the project's steps, SQS/SNS on the fauxqs emulator with the real AWS SDK clients, real training on a small
// procedural dataset with the demo backbone, real ONNX bundles scored on a frozen evaluation set.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { generateDataset, loadManifest, manifestId } from "@roadwork/data";
import { DEMO_HEAD, demoBackboneInput, EmbeddingCache, sha256Hex, trainFromDataset } from "@roadwork/training";
import aslValidator from "asl-validator";
import { type FauxqsServer, startFauxqs } from "fauxqs";
import {
  buildDefinition,
  ensureLocalPointer,
  evaluate,
  LOCAL_RESOURCES,
  LocalDirStore,
  LocalPointerStore,
  localContext,
  localPipelinePaths,
  type PipelineDefinition,
  type PromotionPointer,
  rollbackPointer,
  runLocal,
  train,
  versionDataset,
  withLocalLock,
} from "../src/index.ts";

let dir: string;
let server: FauxqsServer;
let sqs: SQSClient;
let sns: SNSClient;
let definition: PipelineDefinition;
let publishQueue: string;
let inbox: string;
const lines: string[] = [];

const input = (runId: string, extra: Record<string, unknown> = {}) => ({
  runId,
  reason: "test",
  dataset: { manifest: join(dir, "dataset", "manifest.json") },
  train: { viewsPerImage: 1, valViewsPerImage: 1, head: DEMO_HEAD },
  // 16 test images per format: a per-format reward moves by ~0.1 with one image, so the tolerance is wider here than
  // the production default (0.02); gate.test.ts covers the strict regression rule on larger synthetic sets.
  gate: { resamples: 500, tolerance: 0.1 },
  ...extra,
});

async function pointer(): Promise<PromotionPointer | undefined> {
  return (await new LocalPointerStore(localPipelinePaths(dir).pointer).read())?.pointer;
}

async function receiveAll(queueUrl: string): Promise<string[]> {
  const res = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  return (res.Messages ?? []).map((m) => m.Body!);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "roadwork-pipeline-"));
  server = await startFauxqs({ port: 0, logger: false });
  const aws = {
    endpoint: server.address,
    region: "us-east-1",
    credentials: { accessKeyId: "t", secretAccessKey: "t" },
  };
  sqs = new SQSClient(aws);
  sns = new SNSClient(aws);
  publishQueue = (await sqs.send(new CreateQueueCommand({ QueueName: "publish" }))).QueueUrl!;
  inbox = (await sqs.send(new CreateQueueCommand({ QueueName: "alerts-inbox" }))).QueueUrl!;
  const inboxArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: inbox, AttributeNames: ["QueueArn"] })))
    .Attributes!.QueueArn!;
  const topic = (await sns.send(new CreateTopicCommand({ Name: "alerts" }))).TopicArn!;
  await sns.send(new SubscribeCommand({ TopicArn: topic, Protocol: "sqs", Endpoint: inboxArn }));
  definition = buildDefinition({ ...LOCAL_RESOURCES, publishQueueUrl: publishQueue, alertTopicArn: topic });

  // A small dataset, and a champion that is bad on purpose: trained on the same images with every label flipped
  // (through the pipeline's embedding cache, which the pipeline's first run then finds full).
  const dataset = await generateDataset({
    dir: join(dir, "dataset"),
    count: 96,
    width: 160,
    height: 120,
    splitFractions: { train: 0.45, val: 0.2, test: 0.35 },
  });
  const records = dataset.manifest.records.map((r) => ({ ...r, label: (1 - r.label) as 0 | 1 }));
  const flipped = { ...dataset.manifest, name: "flipped", id: manifestId(records), records };
  await writeFile(join(dir, "dataset", "flipped.json"), JSON.stringify(flipped));
  const backbone = demoBackboneInput();
  const cache = await EmbeddingCache.open(new LocalDirStore(join(dir, "pipeline")), sha256Hex(backbone.model));
  await trainFromDataset({
    dataset: await loadManifest(join(dir, "dataset", "flipped.json")),
    backbone,
    out: join(dir, "models", "demo"),
    name: "roadwork-demo",
    version: "1.0.0",
    viewsPerImage: 1,
    valViewsPerImage: 1,
    head: DEMO_HEAD,
    cache,
  });
  await ensureLocalPointer(dir);
});

after(async () => {
  sqs?.destroy();
  sns?.destroy();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

describe("state machine definition", () => {
  test("is valid ASL, with timeouts on every task, retries for lost tasks and a notifying failure path", () => {
    const { isValid, errorsText } = aslValidator(definition as never);
    assert.ok(isValid, errorsText("\n"));
    const states = definition.States as unknown as Record<string, Record<string, unknown>>;
    for (const [name, s] of Object.entries(states)) {
      if (s.Type !== "Task") continue;
      assert.ok(Number(s.TimeoutSeconds) > 0, `${name} has no TimeoutSeconds`);
      if (name !== "NotifyFailure") {
        assert.ok(
          (s.Catch as { Next: string }[]).some((c) => c.Next === "NotifyFailure" || c.Next === "TrainOnDemand"),
          name,
        );
      }
    }
    assert.ok(JSON.stringify(states.Train!.Retry).includes("States.TaskFailed"));
    assert.equal(states.NotifyFailure!.Next, "Failed");
    assert.ok(definition.TimeoutSeconds > 0);
  });
});

describe("local execution of the same definition", () => {
  test("promotes a better challenger atomically and enqueues its publication", async () => {
    const champion = await pointer();
    assert.equal(champion?.version, "roadwork-demo@1.0.0");
    const seen = new Set<string>();
    let torn = false;
    const watcher = setInterval(() => {
      // No half-promoted state: every read of current.json parses and names a complete bundle.
      void readFile(localPipelinePaths(dir).pointer, "utf8").then(async (text) => {
        try {
          const p = JSON.parse(text) as PromotionPointer;
          seen.add(p.version);
          await stat(join(new LocalPointerStore(localPipelinePaths(dir).pointer).resolve(p.bundle), "manifest.json"));
        } catch {
          torn = true;
        }
      });
    }, 20);
    const ctx = await localContext(dir, { publish: { repo: "roadwork/test-model", uid: 7 } });
    const result = await runLocal(input("promote-1"), { definition, ctx, sqs, sns, print: (l) => lines.push(l) });
    clearInterval(watcher);
    assert.equal(result.status, "succeeded", `${JSON.stringify(result.error)}\n${lines.join("\n")}`);
    const gate = result.results.Gate as { decision: string; gain: { lower: number }; challenger: { reward: number } };
    assert.equal(gate.decision, "promote", lines.join("\n"));
    assert.ok(gate.gain.lower > 0.005);
    const now = await pointer();
    assert.equal(now?.version, "roadwork@1.1.0");
    assert.equal(now?.previous?.version, "roadwork-demo@1.0.0");
    assert.equal(now?.runId, "promote-1");
    assert.equal(torn, false);
    assert.ok([...seen].every((v) => v === "roadwork-demo@1.0.0" || v === "roadwork@1.1.0"));
    // The decision is recorded with its figures and its picture.
    const recorded = JSON.parse(await readFile(join(dir, "pipeline", "runs", "promote-1", "gate.json"), "utf8"));
    assert.equal(recorded.decision, "promote");
    assert.deepEqual(Object.keys(recorded.challenger.byFormat), ["apr", "jan", "may"]);
    assert.match(await readFile(join(dir, "pipeline", "runs", "promote-1", "gate.svg"), "utf8"), /^<svg/);
    // The train step found every vector the champion's training had cached.
    const trained = result.results.Train as { cache: { hits: number; misses: number } };
    assert.equal(trained.cache.misses, 0);
    const published = await receiveAll(publishQueue);
    assert.equal(published.length, 1, lines.join("\n"));
    assert.deepEqual(JSON.parse(published[0]!), {
      bundlePrefix: "runs/promote-1/bundle/",
      version: "1.1.0",
      repo: "roadwork/test-model",
      uid: 7,
    });
  });

  test("keeps the champion when the challenger brings no significant gain", async () => {
    // The same training again (from a random draw, as the champion's was, not from the champion's head): identical
    // scores, a gain of exactly 0, whose lower bound cannot clear the margin.
    const ctx = await localContext(dir);
    const cold = { train: { viewsPerImage: 1, valViewsPerImage: 1, head: DEMO_HEAD, warmStartEpochs: 0 } };
    const result = await runLocal(input("keep-1", cold), { definition, ctx, sqs, sns, print: (l) => lines.push(l) });
    assert.equal(result.status, "succeeded");
    const gate = result.results.Gate as { decision: string; gain: { observed: number } };
    assert.equal(gate.decision, "keep-champion");
    assert.equal(gate.gain.observed, 0);
    assert.ok(result.states.some((s) => s.state === "KeepChampion"));
    assert.ok(!result.states.some((s) => s.state === "Promote"));
    assert.equal((await pointer())?.version, "roadwork@1.1.0");
  });

  test("a retrain starts from the champion's head and takes the champion's scores from its own evaluation", async () => {
    // The steps themselves (no gate, no promotion: the pointer stays where the later tests expect it).
    const ctx = await localContext(dir);
    const v = await versionDataset(input("warm-1"), ctx);
    const trained = await train(v.trainJob, ctx);
    assert.equal(trained.head?.warmStart, true, JSON.stringify(trained));
    assert.ok(trained.head.epochs <= 30, `${trained.head.epochs} epochs`);
    // The champion (promote-1) scored this very set when it was the challenger: nothing of it is scored again, and
    // nothing is rendered again. The challenger is new: every item is scored for it.
    const evaluated = await evaluate(v.evaluateJob, ctx);
    assert.equal(evaluated.reused, true);
    assert.equal(evaluated.renders.rendered, 0);
    assert.deepEqual(evaluated.scored.champion, { computed: 0, cached: evaluated.items });
    assert.deepEqual(evaluated.scored.challenger, { computed: evaluated.items, cached: 0 });
    // The champion's cached scores are the ones its own evaluation recorded.
    const record = (run: string) => readFile(join(dir, "pipeline", "runs", run, "evaluation.json"), "utf8");
    const promoted = JSON.parse(await record("promote-1"));
    assert.deepEqual(JSON.parse(await record("warm-1")).champion.scores, promoted.challenger.scores);
  });

  test("a training failure notifies the operator and leaves the pointer alone", async () => {
    const before = await pointer();
    const ctx = await localContext(dir);
    let attempts = 0;
    const result = await runLocal(input("fail-1"), {
      definition,
      ctx,
      sqs,
      sns,
      steps: {
        train: async () => {
          attempts++;
          throw new Error("CUDA error: out of memory");
        },
      },
    });
    assert.equal(result.status, "failed");
    // Two retries on spot, then the on-demand fallback with one retry.
    assert.equal(attempts, 5);
    assert.ok(result.states.some((s) => s.state === "TrainOnDemand"));
    assert.ok(result.states.some((s) => s.state === "NotifyFailure"));
    const alerts = await receiveAll(inbox);
    assert.equal(alerts.length, 1);
    assert.match(alerts[0]!, /out of memory/);
    assert.deepEqual(await pointer(), before);
  });

  test("a spot interruption checkpoints; the retry resumes from the cache", async () => {
    const ctx = await localContext(dir);
    let calls = 0;
    const result = await runLocal(
      // New augmentation seed: these views are not cached yet. From a random draw, as the champion's head was: its
      // challenger does not gain enough to be promoted, and the rollback below finds the pointer it expects.
      input("spot-1", {
        train: { viewsPerImage: 1, valViewsPerImage: 1, head: DEMO_HEAD, seed: 2, warmStartEpochs: 0 },
      }),
      {
        definition,
        ctx,
        sqs,
        sns,
        steps: {
          train: async (job, c) => {
            calls++;
            if (calls > 1) return train(job, c);
            // SIGTERM arrives right after the training views were embedded and flushed.
            const sigterm = new AbortController();
            const store = c.store;
            const watched = Object.create(store) as typeof store;
            watched.put = async (key, bytes) => {
              await store.put(key, bytes);
              if (key.startsWith("embeddings/")) sigterm.abort();
            };
            return train(job, { ...c, store: watched, signal: sigterm.signal });
          },
        },
      },
    );
    assert.equal(result.status, "succeeded", JSON.stringify(result.error));
    assert.equal(calls, 2);
    assert.ok(result.states.some((s) => s.state === "Train" && s.event === "retried"));
    const checkpoint = JSON.parse(await readFile(join(dir, "pipeline", "runs", "spot-1", "checkpoint.json"), "utf8"));
    assert.equal(checkpoint.interruptions, 1);
    assert.equal(checkpoint.stage, "embed-val");
    const trained = result.results.Train as { resumed: { interruptions: number }; cache: { hits: number } };
    assert.equal(trained.resumed.interruptions, 1);
    assert.ok(trained.cache.hits >= 40, `resumed with ${trained.cache.hits} cached vectors`);
  });

  test("a second trigger while a run holds the lock is folded into it", async () => {
    const lock = join(dir, "pipeline", "pipeline.lock");
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const folded: string[] = [];
    const first = withLocalLock(
      lock,
      "run-a",
      async () => {},
      () => held.then(() => "done"),
    );
    await new Promise((r) => setTimeout(r, 50));
    const second = await withLocalLock(
      lock,
      "run-b",
      async (running) => {
        folded.push(running.runId);
      },
      async () => "should not run",
    );
    assert.deepEqual(second, { ran: false, foldedInto: "run-a" });
    assert.deepEqual(folded, ["run-a"]);
    release();
    assert.deepEqual(await first, { ran: true, value: "done" });
    // Released: the next trigger runs.
    assert.equal(
      (
        await withLocalLock(
          lock,
          "run-c",
          async () => {},
          async () => 1,
        )
      ).ran,
      true,
    );
  });

  test("rollback restores the previous pointer, and stops when there is none", async () => {
    const store = new LocalPointerStore(localPipelinePaths(dir).pointer);
    const { from, to } = await rollbackPointer(store);
    assert.equal(from.version, "roadwork@1.1.0");
    assert.equal(to.version, "roadwork-demo@1.0.0");
    assert.equal((await pointer())?.bundle, "demo");
    await assert.rejects(rollbackPointer(store), /no previous pointer/);
  });
});
