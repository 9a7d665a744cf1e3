// The Bedrock teacher through the real SDK against the loopback Bedrock fake (HTTP/2, SigV4), and the rules that turn
// teacher answers into labels or review cases.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { type BatchItem, BedrockTeacher, EnsembleTeacher, type LabellingBatch, teachBatch } from "@roadwork/data";
import sharp from "sharp";
import { answers, type ConverseAnswer, FakeBedrock } from "../../../test/support/fake-bedrock.ts";

const MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0";

async function image(seed: number, width = 224, height = 224): Promise<Uint8Array> {
  return new Uint8Array(
    await sharp({ create: { width, height, channels: 3, background: { r: seed * 20, g: 90, b: 200 - seed * 10 } } })
      .jpeg()
      .toBuffer(),
  );
}
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function batchOf(items: { bytes: Uint8Array; score: number }[]): LabellingBatch {
  return {
    schemaVersion: 1,
    id: "0123456789abcdef",
    createdAt: "2026-11-30T07:00:00.000Z",
    datasetVersion: "a".repeat(64),
    modelVersion: "demo@1.0.0",
    mining: {},
    items: items.map(
      (it, rank): BatchItem => ({
        sha256: sha(it.bytes),
        mediaType: "image/jpeg",
        score: it.score,
        margin: 0.5,
        disagreement: 0,
        uncertainty: 0.5,
        rank,
        validatorFormat: "crop-224",
        teacher: null,
      }),
    ),
  };
}

describe("BedrockTeacher over Converse", () => {
  let fake: FakeBedrock;
  let client: BedrockRuntimeClient;
  before(async () => {
    fake = await FakeBedrock.start();
    // The teacher does its own bounded retries; the SDK's would multiply them.
    client = new BedrockRuntimeClient({ ...fake.clientConfig(), maxAttempts: 1 });
  });
  after(async () => {
    client.destroy();
    await fake.close();
  });

  it("labels what it is sure of, sends disagreements and abstentions to review, and never crashes the batch", async () => {
    const images = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((s) => image(s)));
    const native = await image(8, 3000, 1688); // bigger than Bedrock takes: sent downscaled
    const scores = [0.7, 0.7, 0.3, 0.6, 0.4, 0.55, 0.45, 0.52, 0.62];
    const all = [...images, native];
    // Scripted per image: which answer (or sequence of answers) each one gets.
    const script = new Map<string, ConverseAnswer[]>([
      [sha(all[0]!), [answers.label(1, 0.95)]], // agrees, sure → teacher label
      [sha(all[1]!), [answers.label(0, 0.97, "just a parked orange car")]], // sure, disagrees → review
      [sha(all[2]!), [answers.label(0, 0.5)]], // agrees but unsure → review
      [sha(all[3]!), [answers.refusal()]],
      [sha(all[4]!), [answers.malformed()]],
      [sha(all[5]!), [answers.throttled(), answers.throttled(), answers.label(1, 0.9)]], // retried, then labelled
      [sha(all[6]!), [answers.throttled(), answers.throttled(), answers.throttled(), answers.throttled()]],
      [sha(all[7]!), [answers.contentFiltered()]],
    ]);
    let nativeSeen: { format: string; bytes: Buffer } | undefined;
    fake.converse.respond((call) => {
      const img = call.images[0]!;
      const queued = script.get(img.sha256);
      if (queued?.length) return queued.shift()!;
      nativeSeen = img;
      return answers.text('```json\n{"roadwork": true, "confidence": 0.91, "reason": "barrier"}\n```');
    });
    const delays: number[] = [];
    const teacher = new BedrockTeacher({
      client,
      modelId: MODEL,
      maxAttempts: 4,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    const batch = batchOf(all.map((bytes, i) => ({ bytes, score: scores[i]! })));
    const bytesOf = new Map(all.map((b) => [sha(b), b]));
    const result = await teachBatch(batch, teacher, async (item) => bytesOf.get(item.sha256)!, {
      minConfidence: 0.8,
      concurrency: 3,
    });

    const outcome = (i: number) => result.batch.items[i]!.teacher!;
    assert.equal(outcome(0).outcome, "labelled");
    assert.equal(outcome(1).outcome, "disagreed");
    assert.equal(outcome(1).reason, "just a parked orange car");
    assert.equal(outcome(2).outcome, "abstained");
    assert.match(outcome(3).reason, /^refused:/);
    assert.match(outcome(4).reason, /^malformed:/);
    assert.equal(outcome(5).outcome, "labelled");
    assert.match(outcome(6).reason, /^throttled: ThrottlingException after 4 attempts/);
    assert.match(outcome(7).reason, /^filtered:/);
    assert.equal(outcome(8).outcome, "labelled");
    assert.deepEqual(result.counts, {
      labelled: 3,
      disagreed: 1,
      abstained: 5,
      unsure: 1,
      byReason: { refused: 1, malformed: 1, throttled: 1, filtered: 1 },
    });
    const written = result.labels.map((l) => `${l.sha256}:${l.label}:${l.labelSource}`).sort();
    assert.deepEqual(written, [0, 5, 8].map((i) => `${sha(all[i]!)}:1:teacher`).sort());
    // Backoff: exponential with full jitter, bounded by the attempts.
    assert.equal(delays.length, 2 + 3);
    for (const d of delays) assert.ok(d >= 0 && d < 500 * 2 ** 3);
    assert.equal(teacher.stats.throttled, 2 + 4);
    // The native frame was downscaled to fit Bedrock's image limits, still a JPEG.
    assert.ok(nativeSeen);
    const meta = await sharp(nativeSeen!.bytes).metadata();
    assert.equal(Math.max(meta.width ?? 0, meta.height ?? 0), 1568);
    // Every call went out signed over HTTP/2 with the image as bytes and the strict-JSON instructions.
    assert.ok(fake.requests.every((r) => r.httpVersion === "2.0" && r.signingService === "bedrock"));
    assert.match(fake.converse.calls[0]!.text, /Answer with ONLY a JSON object/);
  });

  it("abstains with the error when the model is not accessible", async () => {
    fake.converse.reply(answers.accessDenied());
    const teacher = new BedrockTeacher({ client, modelId: MODEL, sleep: async () => {} });
    const verdict = await teacher.label(await image(9), "image/jpeg");
    assert.equal(verdict.kind, "abstain");
    assert.match(verdict.kind === "abstain" ? verdict.detail : "", /AccessDeniedException/);
  });
});

describe("EnsembleTeacher", () => {
  it("turns a calibrated score into a label and a confidence, and abstains when scoring fails", async () => {
    const scores = new Map<number, number>([
      [1, 0.97],
      [2, 0.6],
    ]);
    const teacher = new EnsembleTeacher({
      modelVersion: "big@2.0.0",
      score: async (img) => {
        const s = scores.get(img[0]!);
        if (s === undefined) throw new Error("undecodable");
        return { score: s };
      },
    });
    assert.equal(teacher.name, "ensemble:big@2.0.0");
    const sure = await teacher.label(new Uint8Array([1]));
    assert.deepEqual(sure.kind === "answer" && [sure.label, Number(sure.confidence.toFixed(2))], [1, 0.94]);
    const unsure = await teacher.label(new Uint8Array([2]));
    assert.equal(unsure.kind === "answer" && Number(unsure.confidence.toFixed(2)), 0.2);
    assert.equal((await teacher.label(new Uint8Array([3]))).kind, "abstain");
  });
});
