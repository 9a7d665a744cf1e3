// Views drawn on worker threads are the views challengeView draws on this thread: same seed, same bytes (the
// embedding cache keys a view by its seed, so a worker-drawn vector must be the vector a single-thread run computes).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generateDataset, recordPath } from "@roadwork/data";
import {
  backbonePixels,
  challengeView,
  demoBackboneInput,
  EmbeddingExtractor,
  ViewPool,
  viewWorkersFor,
} from "../src/index.ts";

test("a ViewPool draws byte-identical views to challengeView, in every validator format", async () => {
  const dir = await mkdtemp(join(tmpdir(), "roadwork-view-pool-"));
  const pool = new ViewPool(2);
  try {
    const ds = await generateDataset({ dir, count: 6, width: 160, height: 120 });
    const jobs = ds.manifest.records.flatMap((r, i) =>
      (["jan", "apr", "may"] as const).map((format) => ({ r, format, seed: `view:${i}:${format}` })),
    );
    const pooled = await Promise.all(jobs.map((j) => pool.render(recordPath(ds, j.r), j.format, j.seed)));
    for (const [i, j] of jobs.entries()) {
      const here = await challengeView(ds, j.r, j.seed, j.format);
      assert.ok(Buffer.compare(here, pooled[i]!) === 0, `${j.r.id} ${j.format} differs`);
    }
    await assert.rejects(pool.render(join(dir, "missing.jpg"), "jan", "x"), /ENOENT/);
  } finally {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("small runs draw views on this thread; ROADWORK_VIEW_WORKERS overrides", () => {
  const saved = process.env.ROADWORK_VIEW_WORKERS;
  try {
    delete process.env.ROADWORK_VIEW_WORKERS;
    assert.equal(viewWorkersFor(100), 0);
    process.env.ROADWORK_VIEW_WORKERS = "3";
    assert.equal(viewWorkersFor(100), 3);
  } finally {
    if (saved === undefined) delete process.env.ROADWORK_VIEW_WORKERS;
    else process.env.ROADWORK_VIEW_WORKERS = saved;
  }
});

test("pixels decoded on the workers embed exactly like the bytes decoded on this thread", async () => {
  const dir = await mkdtemp(join(tmpdir(), "roadwork-view-pixels-"));
  const pool = new ViewPool(2);
  const b = demoBackboneInput();
  const extractor = await EmbeddingExtractor.load(
    { model: b.model, preprocessing: b.preprocessing, output: b.output, token: b.token, inputName: b.inputName },
    { preprocessInGraph: "never" },
  );
  try {
    const ds = await generateDataset({ dir, count: 4, width: 160, height: 120 });
    const jobs = ds.manifest.records.flatMap((r, i) =>
      (["jan", "apr"] as const).map((format) => ({ r, format, seed: `pixels:${i}:${format}` })),
    );
    const pre = extractor.preprocessing;
    const bytes = await Promise.all(jobs.map((j) => challengeView(ds, j.r, j.seed, j.format)));
    // Rendered and decoded on a worker; given bytes decoded on a worker; the same bytes decoded here.
    const rendered = await Promise.all(jobs.map((j) => pool.renderPixels(recordPath(ds, j.r), j.format, j.seed, pre)));
    for (const [i, px] of rendered.entries()) {
      const here = await backbonePixels(bytes[i]!, pre);
      assert.deepEqual([px.width, px.height], [here.width, here.height]);
      assert.ok(Buffer.compare(Buffer.from(px.data), Buffer.from(here.data)) === 0, `view ${i}: pixels differ`);
    }
    const onThread = await extractor.embed(jobs.length, async (i) => bytes[i]!, { batchSize: 3 });
    const onWorkers = await extractor.embed(jobs.length, (i) => pool.decode(bytes[i]!, pre), {
      batchSize: 3,
      prefetch: 3,
    });
    assert.equal(onWorkers.rows, jobs.length);
    assert.deepEqual(onWorkers.data, onThread.data);
    await assert.rejects(pool.decode(new Uint8Array([1, 2, 3]), pre), /./);
  } finally {
    await extractor.close();
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
});
