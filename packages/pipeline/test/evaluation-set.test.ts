// The frozen evaluation set rendered on view workers holds the bytes renderValidatorFormat draws on this thread, in
// record × format order, and hands them back so scoring reads none from the store.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generateDataset, manifestId, recordPath, recordsOf } from "@roadwork/data";
import { freezeEvaluationSet } from "../src/evaluation-set.ts";
import { LocalDirStore } from "../src/index.ts";
import { renderValidatorFormat } from "../src/validator-formats.ts";

test("an evaluation set rendered on workers equals the one rendered here, item by item", async () => {
  const dir = await mkdtemp(join(tmpdir(), "roadwork-eval-set-"));
  try {
    const ds = await generateDataset({
      dir: join(dir, "ds"),
      count: 16,
      width: 160,
      height: 120,
      splitFractions: { train: 0.5, val: 0, test: 0.5 },
    });
    const onWorkers = await freezeEvaluationSet(new LocalDirStore(join(dir, "a")), ds, { workers: 2 });
    const here = await freezeEvaluationSet(new LocalDirStore(join(dir, "b")), ds, { workers: 0 });
    assert.equal(onWorkers.set.id, here.set.id);
    assert.deepEqual(onWorkers.set.items, here.set.items);
    const records = recordsOf(ds.manifest, "test");
    assert.equal(here.set.items.length, records.length * here.set.formats.length);
    for (const [i, item] of here.set.items.entries()) {
      const record = records[Math.floor(i / here.set.formats.length)]!;
      assert.equal(item.recordId, record.id);
      const bytes = await renderValidatorFormat(
        await readFile(recordPath(ds, record)),
        item.format,
        `eval-1:${record.sha256}:${item.format}`,
      );
      assert.ok(Buffer.compare(Buffer.from(onWorkers.bytes!.get(item.key)!), bytes) === 0, `${item.key} differs`);
    }
    const again = await freezeEvaluationSet(new LocalDirStore(join(dir, "a")), ds, { workers: 2 });
    assert.equal(again.reused, true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the next dataset version's set renders only its new test images and keeps the older items' bytes", async () => {
  const dir = await mkdtemp(join(tmpdir(), "roadwork-eval-set-"));
  try {
    const ds = await generateDataset({
      dir: join(dir, "ds"),
      count: 24,
      width: 160,
      height: 120,
      splitFractions: { train: 0.5, val: 0, test: 0.5 },
    });
    // The earlier version: the first 16 scenes (the later one adds 8, some of them test images).
    const records = ds.manifest.records.slice(0, 16);
    const earlier = { ...ds, manifest: { ...ds.manifest, id: manifestId(records), records } };
    const store = new LocalDirStore(join(dir, "store"));
    const first = await freezeEvaluationSet(store, earlier, { workers: 0 });
    const second = await freezeEvaluationSet(store, ds, { workers: 0 });
    const formats = second.set.formats.length;
    const newTest = recordsOf(ds.manifest, "test").length - recordsOf(earlier.manifest, "test").length;
    assert.ok(newTest > 0, "the later version adds test images");
    assert.notEqual(second.set.id, first.set.id);
    assert.deepEqual(first.renders, { rendered: first.set.items.length, reused: 0 });
    assert.deepEqual(second.renders, { rendered: newTest * formats, reused: first.set.items.length });
    // Every item of the earlier set is in the later one, under the same key: the same bytes.
    const later = new Map(second.set.items.map((i) => [`${i.recordId}:${i.format}`, i.key]));
    for (const item of first.set.items) assert.equal(later.get(`${item.recordId}:${item.format}`), item.key);
    // And the keys are what a fresh store would render for them.
    const fresh = await freezeEvaluationSet(new LocalDirStore(join(dir, "fresh")), ds, { workers: 0 });
    assert.deepEqual(fresh.set.items, second.set.items);
    for (const item of second.set.items) {
      const stored = await store.get(item.key);
      assert.ok(stored && Buffer.compare(Buffer.from(stored), Buffer.from(fresh.bytes!.get(item.key)!)) === 0);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
