// Views drawn on worker threads are the views challengeView draws on this thread: same seed, same bytes (the
// embedding cache keys a view by its seed, so a worker-drawn vector must be the vector a single-thread run computes).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generateDataset, recordPath } from "@roadwork/data";
import { challengeView, ViewPool, viewWorkersFor } from "../src/index.ts";

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
