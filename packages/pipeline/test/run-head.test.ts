// The head a run keeps for the next retrain's warm start: read back exactly, and only for the backbone it was trained on.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { trainHead } from "@roadwork/training";
import { LocalDirStore } from "../src/index.ts";
import { readRunHead, runHeadKey, writeRunHead } from "../src/run-head.ts";

test("a run's head reads back bit for bit on its backbone, and not at all on another or when damaged", async () => {
  const dir = await mkdtemp(join(tmpdir(), "roadwork-run-head-"));
  try {
    const store = new LocalDirStore(dir);
    const x = { rows: 6, cols: 3, data: Float32Array.from({ length: 18 }, (_, i) => Math.sin(i) * 3 + (i % 3)) };
    const y = [0, 1, 0, 1, 1, 0];
    const { weights } = trainHead({ x, y }, { x, y }, { kind: "mlp", hidden: 4, epochs: 3 });
    const [a, b] = ["a".repeat(64), "b".repeat(64)];
    await writeRunHead(store, "run-1", a, weights);
    assert.deepEqual(await readRunHead(store, "run-1", a), weights);
    assert.equal(await readRunHead(store, "run-1", b), undefined, "another backbone's features: no warm start");
    assert.equal(await readRunHead(store, "run-2", a), undefined);
    await store.put(runHeadKey("run-1"), Buffer.from("{ not json"));
    assert.equal(await readRunHead(store, "run-1", a), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
