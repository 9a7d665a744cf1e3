// Bedrock image generation through the real SDK clients against the loopback Bedrock: SigV4-signed HTTP/2 InvokeModel
// for the Stability models and Nova Canvas, the control plane's GetFoundationModel for lifecycles, and every failure
// Bedrock can answer with, counted by the batch runner and charged (or not) in the ledger.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { BedrockClient } from "@aws-sdk/client-bedrock";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { BedrockTeacher, Synth } from "@roadwork/data";
import sharp from "sharp";
import { answers, FakeBedrock } from "../support/fake-bedrock.ts";
import { FakeImageModels } from "../support/fake-bedrock-images.ts";

const SD35 = "stability.sd3-5-large-v1:0";
const CORE = "stability.stable-image-core-v1:1";

describe("Bedrock image generators", () => {
  let fake: FakeBedrock;
  let models: FakeImageModels;
  let runtime: BedrockRuntimeClient;
  let control: BedrockClient;
  let dir: string;

  before(async () => {
    fake = await FakeBedrock.start();
    models = new FakeImageModels().install(fake);
    runtime = new BedrockRuntimeClient({ ...fake.clientConfig(), maxAttempts: 1 });
    control = new BedrockClient({ ...fake.clientConfig(), maxAttempts: 1 });
    dir = await mkdtemp(join(tmpdir(), "roadwork-synth-bedrock-"));
  });
  after(async () => {
    runtime.destroy();
    control.destroy();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => models.reset());

  const generator = (modelId: string) => new Synth.BedrockImageGenerator({ runtime, control, modelId });
  const [t2i, i2i] = [
    Synth.planRequests({ batchId: "t", count: 1, label: 1 })[0]!,
    Synth.planRequests({
      batchId: "i",
      count: 1,
      label: 0,
      sources: [{ id: "real-1", group: "grp-1", label: 1 }],
    })[0]!,
  ];

  it("SD3.5 Large text-to-image: the documented body, a real image back, signed over HTTP/2", async () => {
    const [image] = await generator(SD35).generate(t2i);
    assert.ok(image);
    assert.equal((await sharp(image.bytes).metadata()).format, "jpeg");
    assert.equal(image.provenance.model, SD35);
    assert.equal(image.provenance.seed, t2i.seed);
    const call = models.calls.at(-1)!;
    assert.deepEqual(Object.keys(call.body).sort(), [
      "aspect_ratio",
      "mode",
      "negative_prompt",
      "output_format",
      "prompt",
      "seed",
    ]);
    assert.equal(call.body.mode, "text-to-image");
    assert.equal(call.body.aspect_ratio, "16:9");
    assert.match(String(call.body.prompt), /^Photorealistic dashcam footage/);
    const invoke = fake.requests.find((r) => r.path.endsWith("/invoke"))!;
    assert.equal(invoke.httpVersion, "2.0");
    assert.equal(invoke.signingService, "bedrock");
    // The lifecycle was read first, through the control-plane client.
    assert.ok(
      fake.requests.some((r) => r.method === "GET" && r.path === `/foundation-models/${encodeURIComponent(SD35)}`),
    );
  });

  it("SD3.5 Large image-to-image sends mode, image and strength 0.7 (no aspect ratio); Core refuses i2i", async () => {
    const source = await sharp({
      create: { width: 320, height: 180, channels: 3, background: { r: 90, g: 90, b: 95 } },
    })
      .jpeg()
      .toBuffer();
    const [image] = await generator(SD35).generate(i2i, source);
    assert.ok(image);
    assert.deepEqual(image.provenance.parent, { id: "real-1", group: "grp-1", strength: 0.7 });
    const body = models.calls.at(-1)!.body;
    assert.equal(body.mode, "image-to-image");
    assert.equal(body.strength, 0.7);
    assert.equal(body.image, source.toString("base64"));
    assert.equal(body.aspect_ratio, undefined);
    await assert.rejects(generator(CORE).generate(i2i, source), /does not do image-to-image/);
  });

  it("Nova Canvas: TEXT_IMAGE body, PNG-or-JPEG images back", async () => {
    await generator("amazon.nova-canvas-v1:0").generate(t2i);
    const body = models.calls.at(-1)!.body as { taskType: string; imageGenerationConfig: { seed: number } };
    assert.equal(body.taskType, "TEXT_IMAGE");
    assert.ok(body.imageGenerationConfig.seed <= 858_993_459);
  });

  it("refuses LEGACY and end-of-life models with the dates", async () => {
    assert.throws(() => generator("stability.sd3-large-v1:0"), /unsupported Bedrock image model/);
    models.lifecycle.set(SD35, {
      status: "LEGACY",
      legacyTime: new Date("2026-10-01T00:00:00Z"),
      endOfLifeTime: new Date("2027-04-01T00:00:00Z"),
    });
    try {
      await assert.rejects(
        generator(SD35).prepare(),
        /is LEGACY \(legacy since 2026-10-01, end of life 2027-04-01\): refusing/,
      );
    } finally {
      models.lifecycle.set(SD35, { status: "ACTIVE" });
    }
    await assert.rejects(
      Synth.checkLifecycle(control, "stability.stable-diffusion-xl-v1", new Date()),
      /reached end of life on 2025-10-30/,
    );
  });

  it("a batch rides out throttling and counts filters, malformed answers and model errors; billed ones are charged", async () => {
    const ledger = new Synth.BudgetLedger(new Synth.FileLedgerStore(join(dir, "ledger-a.json")), "test", {
      dayUsd: 5,
      monthUsd: 50,
    });
    models.next(
      { kind: "throttle" },
      { kind: "throttle" },
      { kind: "image" },
      { kind: "filter", reason: "Filter reason: output image" },
      { kind: "malformed", body: '{"images": 42}' },
      { kind: "model-error" },
      { kind: "image" },
    );
    const result = await Synth.runBatch({
      batchId: "mixed",
      generator: generator(SD35),
      requests: Synth.planRequests({ batchId: "mixed", count: 4 }),
      price: Synth.priceOf(`bedrock:${SD35}`),
      sink: { put: async (p) => join(dir, p) },
      gates: { thresholds: Synth.DEFAULT_GATES, reference: new Synth.ReferenceSet() },
      ledger,
      concurrency: 1,
      retry: { attempts: 3, baseDelayMs: 5 },
    });
    assert.deepEqual(result.failures, {
      throttled: 2,
      "content-filtered": 1,
      "malformed-response": 1,
      "model-error": 1,
    });
    assert.equal(result.retries, 3, "two throttles and one model error retried");
    assert.equal(result.accepted.length + result.rejected.length, 2);
    // Two images ($0.08 each) plus the filtered and the malformed call, which Bedrock may have billed.
    assert.equal(result.costUsd, 0.32);
    assert.equal(Math.round((await ledger.summary()).spentDayUsd * 100) / 100, 0.32);
  });

  it("AccessDenied (Marketplace first use) ends the batch with what to do, and nothing is charged", async () => {
    models.always({ kind: "access-denied" });
    const result = await Synth.runBatch({
      batchId: "denied",
      generator: generator(SD35),
      requests: Synth.planRequests({ batchId: "denied", count: 5 }),
      price: Synth.priceOf(`bedrock:${SD35}`),
      sink: { put: async (p) => join(dir, p) },
      gates: { thresholds: Synth.DEFAULT_GATES, reference: new Synth.ReferenceSet() },
      concurrency: 1,
    });
    assert.equal(result.stopped?.reason, "access-denied");
    assert.match(result.stopped!.message, /aws-marketplace:Subscribe/);
    assert.equal(result.failures["access-denied"], 1);
    assert.equal(result.costUsd, 0);
  });

  it("a quota error stops the batch; a throttle that never ends is given up after the retries", async () => {
    models.next({ kind: "quota" });
    const quota = await Synth.runBatch({
      batchId: "quota",
      generator: generator(CORE),
      requests: Synth.planRequests({ batchId: "quota", count: 3 }),
      price: Synth.priceOf(`bedrock:${CORE}`),
      sink: { put: async (p) => join(dir, p) },
      gates: { thresholds: Synth.DEFAULT_GATES, reference: new Synth.ReferenceSet() },
      concurrency: 1,
    });
    assert.equal(quota.stopped?.reason, "quota-exceeded");
    models.always({ kind: "throttle" });
    const throttled = await Synth.runBatch({
      batchId: "throttled",
      generator: generator(CORE),
      requests: Synth.planRequests({ batchId: "throttled", count: 1 }),
      price: Synth.priceOf(`bedrock:${CORE}`),
      sink: { put: async (p) => join(dir, p) },
      gates: { thresholds: Synth.DEFAULT_GATES, reference: new Synth.ReferenceSet() },
      retry: { attempts: 3, baseDelayMs: 5 },
    });
    assert.equal(throttled.failures.throttled, 3);
    assert.equal(throttled.costUsd, 0);
  });

  it("the teacher confirms a label (labelSource teacher) or rejects the image when it disagrees", async () => {
    fake.converse.reply(answers.label(1, 0.92, "cones across the lane"), answers.label(1, 0.88, "orange barrier"));
    const teacher = new BedrockTeacher({ client: runtime, modelId: "anthropic.claude-3-5-sonnet-20240620-v1:0" });
    const result = await Synth.runBatch({
      batchId: "taught",
      generator: generator(CORE),
      requests: Synth.planRequests({ batchId: "taught", count: 2 }),
      price: Synth.priceOf(`bedrock:${CORE}`),
      sink: { put: async (p) => join(dir, p) },
      gates: { thresholds: Synth.DEFAULT_GATES, reference: new Synth.ReferenceSet(), teacher },
      concurrency: 1,
    });
    assert.equal(result.accepted.length, 1);
    assert.equal(result.accepted[0]!.label, 1);
    assert.equal(result.accepted[0]!.labelSource, "teacher");
    assert.deepEqual(result.rejected[0]!.reasons, ["label-disagrees"]);
    assert.match(result.rejected[0]!.detail[0]!, /teacher says 1 \(0\.88\), prompt says 0/);
  });
});
