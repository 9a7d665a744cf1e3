// Versioning copies a dataset's images into the store many at a time: all of them, once; and none past a damaged one.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generateDataset, recordPath } from "@roadwork/data";
import { demoBackboneInput } from "@roadwork/training";
import { LocalDirStore, LocalPointerStore, type PipelineContext, versionDataset } from "../src/index.ts";

test("versions every image once, and stops at an image that does not match its sha256 without a manifest", async () => {
  const dir = await mkdtemp(join(tmpdir(), "roadwork-version-"));
  try {
    const ds = await generateDataset({ dir: join(dir, "ds"), count: 48, width: 64, height: 48 });
    const ctx = (store: string): PipelineContext => ({
      store: new LocalDirStore(join(dir, store)),
      pointer: new LocalPointerStore(join(dir, store, "current.json")),
      backbone: async () => demoBackboneInput(),
      log: () => {},
    });
    const input = { runId: "v", dataset: { manifest: join(dir, "ds", "manifest.json") } };
    const good = ctx("good");
    const first = await versionDataset(input, good);
    assert.equal(first.dataset.added, 48);
    const stored = await good.store.list(`datasets/${ds.manifest.id}/`);
    assert.equal(stored.length, 49); // the images and the manifest
    assert.equal((await versionDataset(input, good)).dataset.added, 0);

    await writeFile(recordPath(ds, ds.manifest.records[3]!), Buffer.from("not the image the manifest names"));
    const bad = ctx("bad");
    await assert.rejects(versionDataset(input, bad), /does not match its sha256/);
    assert.equal(await bad.store.getJson(`datasets/${ds.manifest.id}/manifest.json`), undefined);
    // Copies already in flight finish; no new one starts. Wait until the store stops changing, then count.
    const count = async () => (await bad.store.list(`datasets/${ds.manifest.id}/`)).length;
    let copied = await count();
    for (let settled = false; !settled; ) {
      await new Promise((r) => setTimeout(r, 300));
      const now = await count();
      settled = now === copied;
      copied = now;
    }
    assert.ok(copied < 40, `${copied} images copied after the damaged one was found`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
