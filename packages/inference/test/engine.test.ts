import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadScorer } from "../src/load.ts";
import { silentLogger } from "../src/session.ts";
import { writeTinyBundle } from "./bundles.ts";
import { jpeg, rawImage } from "./images.ts";

let dir: string;
let images: Buffer[];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "roadwork-engine-"));
  await writeTinyBundle(dir, { seeds: [4] });
  images = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      jpeg(
        rawImage(224, 224, (x, y) => (x + y < i * 30 ? [240, 120, 20] : [60 + i * 10, 90, 95])),
        224,
        224,
      ),
    ),
  );
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("micro-batching: concurrent callers share runs and each gets its own answer", async () => {
  const single = await loadScorer({ model: dir, logger: silentLogger, maxBatch: 1, cacheSize: 0 });
  const expected: number[] = [];
  for (const img of images) expected.push((await single.score(img)).score);
  await single.close();
  assert.equal(new Set(expected).size, images.length, "test images must score differently");

  const batched = await loadScorer({ model: dir, logger: silentLogger, maxBatch: 4, maxWaitMs: 50, cacheSize: 0 });
  const results = await Promise.all(images.map((img) => batched.score(img)));
  results.forEach((r, i) => {
    assert.ok(Math.abs(r.score - (expected[i] as number)) < 1e-6, `image ${i}: ${r.score} vs ${expected[i]}`);
    assert.equal(r.cached, false);
  });
  const stats = batched.stats;
  assert.equal(stats.batchedImages, images.length);
  assert.ok(stats.batches <= 4, `expected at most 4 runs for 12 images with maxBatch 4, got ${stats.batches}`);
  await batched.close();
});

test("an aborted caller leaves the queue; the others are still answered", async () => {
  const scorer = await loadScorer({ model: dir, logger: silentLogger, maxBatch: 64, maxWaitMs: 150, cacheSize: 0 });
  const controller = new AbortController();
  const doomed = scorer.score(images[0] as Buffer, { signal: controller.signal });
  const fine = scorer.score(images[1] as Buffer);
  setTimeout(() => controller.abort(new Error("deadline passed")), 20);
  await assert.rejects(doomed, /deadline passed/);
  const r = await fine;
  assert.ok(r.score > 0 && r.score < 1);
  assert.equal(scorer.stats.batchedImages, 1);
  const already = AbortSignal.abort(new Error("too late"));
  await assert.rejects(scorer.score(images[2] as Buffer, { signal: already }), /too late/);
  await scorer.close();
});

test("the cache is keyed by the image bytes' sha256, bounded, and exact", async () => {
  const scorer = await loadScorer({ model: dir, logger: silentLogger, cacheSize: 2 });
  const a = await scorer.score(images[3] as Buffer);
  const a2 = await scorer.score(Buffer.from(images[3] as Buffer)); // equal bytes, different buffer
  assert.deepEqual([a2.cached, a2.score, a2.modelVersion], [true, a.score, a.modelVersion]);
  await scorer.score(images[4] as Buffer);
  await scorer.score(images[5] as Buffer); // evicts images[3]
  const a3 = await scorer.score(images[3] as Buffer);
  assert.equal(a3.cached, false);
  assert.equal(a3.score, a.score);
  assert.equal(scorer.stats.cacheHits, 1);
  await scorer.close();
});

test("close() waits for calls in flight before releasing the sessions", async () => {
  const scorer = await loadScorer({ model: dir, logger: silentLogger, maxWaitMs: 30, cacheSize: 0 });
  const inflight = images.slice(0, 5).map((img) => scorer.score(img));
  const closing = scorer.close();
  const results = await Promise.all(inflight);
  await closing;
  assert.equal(results.length, 5);
  await assert.rejects(scorer.score(images[0] as Buffer), /closed/);
});

test("continuous batching: a lone request runs on arrival, never through the wait timer", async () => {
  const scorer = await loadScorer({ model: dir, logger: silentLogger, cacheSize: 0 });
  const before = scorer.stats;
  await scorer.score(images[0] as Buffer);
  const after = scorer.stats;
  assert.equal(after.runsOnArrival - before.runsOnArrival, 1);
  assert.equal(after.runsAfterWait - before.runsAfterWait, 0);
  assert.equal(after.batches - before.batches, 1);
  await scorer.close();

  // The older fixed wait is still available, and it is what the counters tell apart.
  const waiting = await loadScorer({ model: dir, logger: silentLogger, cacheSize: 0, maxWaitMs: 5 });
  const w0 = waiting.stats;
  await waiting.score(images[0] as Buffer);
  assert.equal(waiting.stats.runsAfterWait - w0.runsAfterWait, 1);
  assert.equal(waiting.stats.runsOnArrival - w0.runsOnArrival, 0);
  await waiting.close();
});

test("continuous batching: requests arriving during a run are batched together, each with its own answer", async () => {
  const single = await loadScorer({ model: dir, logger: silentLogger, maxBatch: 1, cacheSize: 0 });
  const expected: number[] = [];
  for (const img of images) expected.push((await single.score(img)).score);
  await single.close();

  const scorer = await loadScorer({ model: dir, logger: silentLogger, maxBatch: 8, cacheSize: 0 });
  const s0 = scorer.stats;
  const results = await Promise.all(images.map((img) => scorer.score(img)));
  results.forEach((r, i) => {
    assert.ok(Math.abs(r.score - (expected[i] as number)) < 1e-6, `image ${i}: ${r.score} vs ${expected[i]}`);
  });
  const s = scorer.stats;
  assert.equal(s.batchedImages - s0.batchedImages, images.length);
  const runs = s.batches - s0.batches;
  // Arrivals at an idle engine run at once; those that came during a run went together right after it. No timer.
  assert.equal(s.runsAfterWait - s0.runsAfterWait, 0);
  assert.equal(s.runsOnArrival - s0.runsOnArrival + (s.runsAfterRun - s0.runsAfterRun), runs);
  assert.ok(s.runsAfterRun - s0.runsAfterRun >= 1, "some requests queued behind a run");
  assert.ok(runs < images.length, `12 concurrent images: expected shared runs, got ${runs} runs`);
  await scorer.close();
});

test("batch buckets: every run is padded to a bucket, and padding never reaches an answer", async () => {
  const plain = await loadScorer({ model: dir, logger: silentLogger, maxBatch: 1, cacheSize: 0 });
  const expected: number[] = [];
  for (const img of images) expected.push((await plain.score(img)).score);
  assert.deepEqual(plain.batchBuckets, {}, "no buckets on CPU by default");
  await plain.close();

  const scorer = await loadScorer({
    model: dir,
    logger: silentLogger,
    maxBatch: 4,
    cacheSize: 0,
    batchBuckets: [1, 4],
  });
  assert.deepEqual(scorer.batchBuckets, { m0: [1, 4] });
  // 11 concurrent images: 1 on arrival, then runs of 4, 4 and a partial one padded to 4.
  const results = await Promise.all(images.slice(0, 11).map((img) => scorer.score(img)));
  results.forEach((r, i) => {
    assert.ok(Math.abs(r.score - (expected[i] as number)) < 1e-6, `image ${i}: ${r.score} vs ${expected[i]}`);
  });
  const lone = await scorer.score(images[11] as Buffer);
  assert.ok(Math.abs(lone.score - (expected[11] as number)) < 1e-6);
  assert.deepEqual(scorer.shapesRun, [1, 4], "onnxruntime saw only the bucket sizes");
  assert.ok(scorer.stats.paddedRows > 0, "a partial batch was padded");
  await scorer.close();
});
