// The frozen evaluation set rendered on view workers holds the bytes renderValidatorFormat draws on this thread, in
// record × format order, and hands them back so scoring reads none from the store.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generateDataset, recordPath, recordsOf } from "@roadwork/data";
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
