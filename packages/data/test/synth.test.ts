import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { Prng, Synth } from "../src/index.ts";

const {
  BudgetLedger,
  DEFAULT_GATES,
  FileLedgerStore,
  ProceduralGenerator,
  ReferenceSet,
  ThumbnailEmbedder,
  frechetDistance,
  kernelInceptionDistance,
  planRequests,
  priceOf,
  runBatch,
  sqrtPsd,
} = Synth;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "roadwork-synth-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function dirSink(root: string): Synth.ImageSink {
  return {
    async put(path, bytes) {
      const { mkdir } = await import("node:fs/promises");
      const { dirname } = await import("node:path");
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), bytes);
      return join(root, path);
    },
  };
}

/** A generator that returns the procedural render, heavily blurred: every image must fail the blur gate. */
class BlurredGenerator extends ProceduralGenerator {
  override async generate(r: Synth.GenerationRequest, s?: Uint8Array) {
    const images = await super.generate(r, s);
    return Promise.all(
      images.map(async (i) => ({ ...i, bytes: new Uint8Array(await sharp(i.bytes).blur(5).jpeg().toBuffer()) })),
    );
  }
}

/** A generator that answers every request with the same image (a stuck model, a cache gone wrong). */
class RepeatingGenerator extends ProceduralGenerator {
  private first?: Promise<Synth.GeneratedImage[]>;
  override generate(r: Synth.GenerationRequest) {
    this.first ??= super.generate(r);
    return this.first;
  }
}

/** Prices a free generator as if it cost money, to exercise the budget without a network. */
const pricey = (usdPerImage: number): Synth.ModelPrice => ({ ...priceOf("procedural"), usdPerImage });

describe("validator-like prompts", () => {
  it("label 1 names roadwork objects; label 0 keeps them out of the prompt and puts them in the negative prompt", () => {
    const reqs = planRequests({ batchId: "p", count: 6 });
    for (const r of reqs) {
      assert.match(r.prompt, /^Photorealistic dashcam footage of /);
      assert.match(r.negativePrompt, /no oversaturation/);
      if (r.label === 1) assert.match(r.prompt, /cone|barrier|worker|sign|excavator|roller/i);
      else {
        assert.doesNotMatch(r.prompt, /cone|barrier|worker|roadwork/i);
        assert.match(r.negativePrompt, /traffic cones/);
      }
    }
    assert.deepEqual(
      reqs.map((r) => r.label),
      [1, 0, 1, 0, 1, 0],
    );
    assert.deepEqual(planRequests({ batchId: "p", count: 6 }), reqs, "the same batch id plans the same requests");
  });

  it("builds from NATIX scene descriptions, strips roadwork from label-0 captions, and i2i keeps the source group", () => {
    const [r] = planRequests({
      batchId: "c",
      count: 1,
      label: 0,
      sources: [
        {
          id: "natix-17",
          group: "g-42",
          label: 1,
          caption: {
            text: "The image shows a city street with orange cones and a construction barrier.",
            source: "metadata",
          },
        },
      ],
    });
    assert.ok(r);
    assert.match(r.prompt, /^Photorealistic dashcam footage of a city street/);
    assert.doesNotMatch(r.prompt, /cone|barrier/);
    assert.deepEqual(r.source, { id: "natix-17", group: "g-42", strength: 0.7 });
  });

  it("spreads a batch over hard-case clusters by weight, with their labels", () => {
    const reqs = planRequests({
      batchId: "h",
      count: 9,
      hardCases: [
        { id: "orange-van", description: "an orange delivery van at the curb", label: 0, weight: 2 },
        { id: "night-cones", description: "a few cones barely visible at night", label: 1, weight: 1 },
      ],
    });
    const van = reqs.filter((r) => r.context.hardCaseCluster === "orange-van");
    assert.equal(van.length, 6);
    assert.equal(reqs.filter((r) => r.context.hardCaseCluster === "night-cones").length, 3);
    assert.ok(van.every((r) => r.label === 0 && r.prompt.includes("orange delivery van")));
  });
});

describe("embedding distances", () => {
  it("the PSD square root squares back", () => {
    const m = [
      [4, 1, 0],
      [1, 3, 0.5],
      [0, 0.5, 2],
    ];
    const s = sqrtPsd(m);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        const v = s[i]!.reduce((t, _, k) => t + s[i]![k]! * s[k]![j]!, 0);
        assert.ok(Math.abs(v - m[i]![j]!) < 1e-9);
      }
  });

  it("KID and Fréchet are near zero for one distribution and grow with a shift", () => {
    const rng = new Prng("distances");
    const rand = () => rng.uniform(-1, 1);
    const draw = (n: number, shift: number) =>
      Array.from({ length: n }, () => Float32Array.from({ length: 24 }, () => rand() + shift));
    const a = draw(60, 0);
    const b = draw(60, 0);
    const c = draw(60, 0.8);
    assert.ok(Math.abs(kernelInceptionDistance(a, b)) < kernelInceptionDistance(a, c) / 10);
    assert.ok(frechetDistance(a, b) < frechetDistance(a, c) / 5);
  });
});

describe("synthetic batches", () => {
  it("procedural: generates, gates, labels and accounts a batch (no spend)", async () => {
    const out = join(dir, "proc");
    const embedder = new ThumbnailEmbedder();
    const generator = new ProceduralGenerator();
    const real = await Promise.all(
      planRequests({ batchId: "real", count: 6 }).map(async (r) => (await generator.generate(r))[0]!.bytes),
    );
    const realEmbeddings = await embedder.embed(real);
    const result = await runBatch({
      batchId: "proc",
      generator,
      requests: planRequests({ batchId: "proc", count: 6 }),
      price: priceOf("procedural"),
      sink: dirSink(out),
      gates: { thresholds: DEFAULT_GATES, reference: new ReferenceSet(), embedder },
      realEmbeddings,
    });
    assert.equal(result.accepted.length + result.rejected.length, 6);
    assert.ok(result.accepted.length >= 5, JSON.stringify(result.rejected.map((r) => r.detail)));
    assert.equal(result.costUsd, 0);
    for (const r of result.accepted) {
      assert.equal(r.labelSource, "prompt");
      assert.equal(r.group, `synth-${r.requestId}`);
      assert.equal((await sharp(await readFile(r.location)).metadata()).format, "jpeg");
    }
    assert.ok(result.distance && Number.isFinite(result.distance.kid) && result.distance.frechet >= 0);
  });

  it("a batch whose images are all blurred, or all the same image, is rejected with reasons and kept for inspection", async () => {
    const blurred = await runBatch({
      batchId: "blur",
      generator: new BlurredGenerator(),
      requests: planRequests({ batchId: "blur", count: 4 }),
      price: priceOf("procedural"),
      sink: dirSink(join(dir, "blur")),
      gates: { thresholds: DEFAULT_GATES, reference: new ReferenceSet() },
    });
    assert.equal(blurred.accepted.length, 0);
    assert.equal(blurred.rejected.length, 4);
    for (const r of blurred.rejected) {
      assert.ok(r.reasons.includes("blurred"), r.detail.join("; "));
      assert.match(r.path, /^images\/rejected\//);
      await readFile(r.location);
    }
    const repeated = await runBatch({
      batchId: "dup",
      generator: new RepeatingGenerator(),
      requests: planRequests({ batchId: "dup", count: 4 }),
      price: priceOf("procedural"),
      sink: dirSink(join(dir, "dup")),
      gates: { thresholds: DEFAULT_GATES, reference: new ReferenceSet(), embedder: new ThumbnailEmbedder() },
    });
    assert.equal(repeated.accepted.length, 1, "the first copy is new");
    assert.equal(repeated.rejected.length, 3);
    for (const r of repeated.rejected) {
      assert.ok(
        r.reasons.includes("near-duplicate-phash") && r.reasons.includes("near-duplicate-embedding"),
        r.reasons.join(),
      );
    }
  });

  it("stops at the budget cap mid-batch, alerts once, and a redelivered batch is generated and charged once", async () => {
    const ledgerFile = join(dir, "ledger.json");
    const ledger = new BudgetLedger(new FileLedgerStore(ledgerFile), "test", { dayUsd: 0.25, monthUsd: 10 });
    const alerts: string[] = [];
    const alerter = { alert: async (_s: string, m: string) => void alerts.push(m) };
    const requests = planRequests({ batchId: "budget", count: 6 });
    const run = () =>
      runBatch({
        batchId: "budget",
        generator: new ProceduralGenerator(),
        requests,
        price: pricey(0.08),
        sink: dirSink(join(dir, "budget")),
        gates: { thresholds: DEFAULT_GATES, reference: new ReferenceSet() },
        ledger,
        alerter,
        concurrency: 1,
      });
    const first = await run();
    assert.equal(first.accepted.length + first.rejected.length, 3, "3 × $0.08 fit under $0.25, the 4th does not");
    assert.equal(first.costUsd, 0.24);
    assert.equal(first.stopped?.reason, "budget");
    assert.match(first.stopped!.message, /day cap \$0\.25, spent \$0\.24/);
    assert.equal(alerts.length, 1);
    // The same message delivered again: the 3 charged requests are skipped, nothing new fits, no second alert.
    const second = await run();
    assert.deepEqual(
      second.alreadyDone,
      requests.slice(0, 3).map((r) => r.requestId),
    );
    assert.equal(second.costUsd, 0);
    assert.equal(alerts.length, 1);
    const summary = await ledger.summary();
    assert.equal(Math.round(summary.spentDayUsd * 100) / 100, 0.24);
  });

  it("two ledgers on one file never overspend together", async () => {
    const file = join(dir, "shared-ledger.json");
    const a = new BudgetLedger(new FileLedgerStore(file), "test", { dayUsd: 1, monthUsd: 1 });
    const b = new BudgetLedger(new FileLedgerStore(file), "test", { dayUsd: 1, monthUsd: 1 });
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).reserve(`r-${i}`, "m", 0.1)),
    );
    assert.equal(results.filter((r) => r.status === "reserved").length, 10);
    assert.equal(results.filter((r) => r.status === "over-budget").length, 20);
    const doc = JSON.parse(await readFile(file, "utf8"));
    assert.equal(Object.keys(doc.entries).length, 10);
  });

  it("an attempt that died mid-call stays counted, and the retry is a new attempt", async () => {
    let now = new Date("2026-11-30T10:00:00Z");
    const ledger = new BudgetLedger(
      new FileLedgerStore(join(dir, "lease.json")),
      "test",
      { dayUsd: 1, monthUsd: 5 },
      { leaseSeconds: 60, now: () => now },
    );
    assert.equal((await ledger.reserve("x", "m", 0.3)).status, "reserved");
    assert.equal((await ledger.reserve("x", "m", 0.3)).status, "in-progress");
    now = new Date("2026-11-30T10:05:00Z");
    assert.equal((await ledger.reserve("x", "m", 0.3)).status, "reserved");
    await ledger.settle("x", 0.3, "generated 1", "out.jpg");
    assert.equal((await ledger.reserve("x", "m", 0.3)).status, "done");
    assert.equal(Math.round((await ledger.summary()).spentDayUsd * 10) / 10, 0.6);
  });
});
