import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import sharp from "sharp";
import { generateDataset, loadManifest, planScene, renderScene, SCENE_CATEGORIES, splitOfGroup } from "../src/index.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("procedural scenes", () => {
  it("renders the same bytes for the same seed and different bytes for another", async () => {
    const a = await renderScene(planScene(42));
    const b = await renderScene(planScene(42));
    const c = await renderScene(planScene(43));
    assert.equal(sha(a.jpeg), sha(b.jpeg));
    assert.notEqual(sha(a.jpeg), sha(c.jpeg));
    const meta = await sharp(a.jpeg).metadata();
    assert.equal(meta.format, "jpeg");
    assert.equal(meta.width, 320);
    assert.equal(meta.height, 240);
  });

  it("plans labels consistent with categories, covering every category and condition", () => {
    const seen = new Set<string>();
    const times = new Set<string>();
    const weathers = new Set<string>();
    let positives = 0;
    for (let s = 0; s < 600; s++) {
      const p = planScene(s);
      assert.equal(p.label === 1, p.category.startsWith("positive/"), `seed ${s}: ${p.category} labelled ${p.label}`);
      seen.add(p.category);
      times.add(p.conditions.time);
      weathers.add(p.conditions.weather);
      positives += p.label;
    }
    assert.deepEqual([...seen].sort(), [...SCENE_CATEGORIES].sort());
    assert.deepEqual([...times].sort(), ["day", "dusk", "night"]);
    assert.deepEqual([...weathers].sort(), ["clear", "fog", "rain"]);
    assert.ok(positives > 240 && positives < 360, `positives ${positives}/600`);
  });

  it("writes an immutable, procedural, leak-free dataset and reuses it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "roadwork-ds-"));
    try {
      const ds = await generateDataset({ dir, count: 60, baseSeed: 7 });
      assert.equal(ds.manifest.source, "procedural");
      assert.equal(ds.manifest.records.length, 60);
      for (const r of ds.manifest.records) {
        assert.equal(r.split, splitOfGroup(r.group, ds.manifest.generator!.splitFractions));
        assert.equal(sha(await readFile(join(dir, r.path))), r.sha256);
      }
      const again = await generateDataset({ dir, count: 60, baseSeed: 7 });
      assert.equal(again.manifest.id, ds.manifest.id);
      await assert.rejects(generateDataset({ dir, count: 61, baseSeed: 7 }), /immutable/);
      // Tampering with a record breaks the content address.
      const path = join(dir, "manifest.json");
      const json = JSON.parse(await readFile(path, "utf8"));
      json.records[0].label = 1 - json.records[0].label;
      await writeFile(path, JSON.stringify(json));
      await assert.rejects(loadManifest(path), /modified after creation/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
