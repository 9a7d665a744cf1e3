import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  type DatasetVersion,
  DEFAULT_GROUPING_POLICY,
  deriveVersion,
  describeImage,
  loadManifest,
  localDatasetStore,
  type NewImageRecord,
  newRecord,
  parseVersion,
  phashDistance,
  REAL_SOURCES,
  recordsOf,
  type Source,
  StaleParentError,
  versionId,
} from "../src/index.ts";
import { blockImage } from "./support/images.ts";

async function rec(seed: number, source: Source, label: 0 | 1 | null, extra: Partial<NewImageRecord> = {}) {
  const bytes = await blockImage(seed);
  const r = newRecord(await describeImage(bytes), {
    source,
    ...(label === null ? {} : { label, labelSource: source === "synthetic" ? "prompt" : "ground-truth" }),
  });
  return { bytes, record: { ...r, ...extra } };
}

describe("dataset model", () => {
  it("describes images by content and rejects what is not a whole image", async () => {
    const jpeg = await blockImage(1);
    const facts = await describeImage(jpeg);
    assert.equal(facts.mediaType, "image/jpeg");
    assert.equal(facts.width, 96);
    assert.match(facts.sha256, /^[0-9a-f]{64}$/);
    assert.match(facts.phash, /^[0-9a-f]{16}$/);
    assert.equal((await describeImage(await blockImage(1, { format: "png" }))).mediaType, "image/png");
    await assert.rejects(describeImage(new TextEncoder().encode("<html>not an image</html>")), /not a JPEG, PNG/);
    await assert.rejects(describeImage(jpeg.subarray(0, Math.floor(jpeg.length / 2))), /cannot decode image\/jpeg/);
  });

  it("groups near duplicates by perceptual hash, i2i results with their parent, and by embedding cosine", async () => {
    const a = await blockImage(10, { quality: 95 });
    const aAgain = await blockImage(10, { quality: 40, size: 90 });
    const b = await blockImage(11);
    const fa = await describeImage(a);
    const fa2 = await describeImage(aAgain);
    const fb = await describeImage(b);
    assert.notEqual(fa.sha256, fa2.sha256);
    assert.ok(phashDistance(fa.phash, fa2.phash) <= DEFAULT_GROUPING_POLICY.phashMaxDistance);
    assert.ok(phashDistance(fa.phash, fb.phash) > DEFAULT_GROUPING_POLICY.phashMaxDistance);

    const c = await rec(12, "natix", 1);
    const d = await rec(13, "natix", 0);
    const child = await rec(14, "synthetic", 1, { details: { generator: "test-i2i", parentSha256: c.record.sha256 } });
    const { version } = deriveVersion(null, {
      note: "grouping",
      add: [
        newRecord(fa, { source: "natix", label: 1, labelSource: "ground-truth" }),
        newRecord(fa2, { source: "folder", label: 1, labelSource: "human" }),
        newRecord(fb, { source: "natix", label: 0, labelSource: "ground-truth" }),
        c.record,
        d.record,
        child.record,
      ],
      // c and d are different pictures whose embeddings say they show the same scene.
      embeddings: new Map([
        [c.record.sha256, [1, 0, 0.01]],
        [d.record.sha256, [1, 0.01, 0]],
        [fb.sha256, [0, 1, 0]],
      ]),
    });
    const g = new Map(version.records.map((r) => [r.sha256, r.group]));
    assert.equal(g.get(fa.sha256), g.get(fa2.sha256), "re-encoded copy shares a group");
    assert.notEqual(g.get(fa.sha256), g.get(fb.sha256));
    assert.equal(g.get(child.record.sha256), g.get(c.record.sha256), "i2i result joins its parent");
    assert.equal(g.get(c.record.sha256), g.get(d.record.sha256), "embedding near-duplicates share a group");
    assert.notEqual(g.get(fb.sha256), g.get(c.record.sha256));
  });

  it("an i2i result added later joins its parent's group, and never enters val/test", async () => {
    const parents = await Promise.all(Array.from({ length: 24 }, (_, i) => rec(100 + i, "natix", (i % 2) as 0 | 1)));
    const v1 = deriveVersion(null, { note: "natix", add: parents.map((p) => p.record) }).version;
    const heldOut = v1.records.find((r) => r.split === "test" || r.split === "val");
    assert.ok(heldOut, "some natix image is held out");
    const child = await rec(200, "synthetic", 1, { details: { generator: "i2i", parentSha256: heldOut.sha256 } });
    const v2 = deriveVersion(v1, { note: "synth", add: [child.record] }).version;
    const c2 = v2.records.find((r) => r.sha256 === child.record.sha256)!;
    assert.equal(c2.group, heldOut.group);
    assert.equal(c2.split, null, "synthetic image in a held-out group is quarantined, not trained on");
    // Earlier records keep their groups and splits.
    for (const r of v1.records) {
      const again = v2.records.find((x) => x.sha256 === r.sha256)!;
      assert.equal(again.group, r.group);
      assert.equal(again.split, r.split);
    }
  });

  it("val and test hold only real, labelled images", async () => {
    const sources: Source[] = ["natix", "captured", "folder", "synthetic", "procedural"];
    const add = await Promise.all(
      Array.from({ length: 60 }, (_, i) => rec(300 + i, sources[i % 5]!, i % 7 === 0 ? null : ((i % 2) as 0 | 1))),
    );
    const { version } = deriveVersion(null, { note: "mixed", add: add.map((a) => a.record) });
    const held = version.records.filter((r) => r.split === "val" || r.split === "test");
    assert.ok(held.length > 5);
    for (const r of held) assert.ok(REAL_SOURCES.includes(r.source), `${r.source} in ${r.split}`);
    for (const r of version.records) if (r.label === null) assert.equal(r.split, null);
    assert.ok(version.records.some((r) => r.source === "synthetic" && r.split === "train"));
    assert.equal(version.counts.bySource.synthetic!.total, 12);
    // A hand-edited version putting a synthetic image in test is refused.
    const tampered = structuredClone(version) as DatasetVersion;
    const syn = tampered.records.find((r) => r.source === "synthetic" && r.label !== null)!;
    syn.split = "test";
    tampered.id = versionId(tampered);
    assert.throws(() => parseVersion(tampered), /val\/test hold only real images/);
  });

  it("versions are immutable and content-addressed; labels follow precedence", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ds-model-"));
    try {
      const store = localDatasetStore(dir);
      const a = await rec(400, "captured", null);
      const b = await rec(401, "natix", 1);
      for (const x of [a, b]) await store.putImage(x.bytes);
      const d1 = deriveVersion(null, { note: "first", name: "t", add: [a.record, b.record] });
      const v1 = await store.commit(d1);
      assert.equal(v1.parent, null);
      assert.equal(await store.getLatest(), v1.id);
      // Same content, same id (createdAt is not part of it).
      assert.equal(deriveVersion(null, { note: "first", name: "t", add: [b.record, a.record] }).version.id, v1.id);

      const d2 = deriveVersion(v1, {
        note: "label",
        labels: [
          { sha256: a.record.sha256, label: 1, labelSource: "teacher", labelConfidence: 0.9 },
          { sha256: b.record.sha256, label: 0, labelSource: "teacher", labelConfidence: 0.99 },
        ],
      });
      assert.deepEqual(d2.relabelled, [a.record.sha256]);
      assert.match(d2.labelsRejected[0]!.reason, /keeps its ground-truth label/);
      const v2 = await store.commit(d2);
      assert.equal(v2.parent, v1.id);
      assert.equal(v2.records.find((r) => r.sha256 === a.record.sha256)!.labelSource, "teacher");
      const d3 = deriveVersion(v2, {
        note: "human",
        labels: [{ sha256: a.record.sha256, label: 0, labelSource: "human", labelConfidence: 1 }],
      });
      assert.equal(d3.relabelled.length, 1);
      // Nothing new: no new version.
      const same = deriveVersion(v2, { note: "again", add: [b.record] });
      assert.equal(same.changed, false);
      assert.equal(same.version.id, v2.id);

      // The parent is unchanged on disk; a modified file is detected.
      assert.equal((await store.getVersion(v1.id)).records.find((r) => r.sha256 === a.record.sha256)!.label, null);
      const path = join(dir, "versions", `${v1.id}.json`);
      const json = JSON.parse(await readFile(path, "utf8"));
      json.records[0].label = 1;
      json.records[0].labelSource = "human";
      json.records[0].labelConfidence = 1;
      await writeFile(path, JSON.stringify(json));
      await assert.rejects(store.getVersion(v1.id), /modified after it was made/);
      await assert.rejects(store.putVersion(v1), /modified after it was made/);

      // A writer that derived from an old latest is told to derive again.
      await store.commit(d3);
      await assert.rejects(
        store.commit(deriveVersion(v2, { note: "late", remove: [b.record.sha256] })),
        StaleParentError,
      );
      assert.deepEqual((await store.listVersions()).sort(), [v1.id, v2.id, d3.version.id].sort());

      // Training reads the latest version straight from the store directory.
      const view = await loadManifest(dir);
      assert.equal(view.manifest.id, d3.version.id);
      assert.equal(view.manifest.records.length, 2);
      const bytes = await readFile(join(view.root, recordsOf(view.manifest, view.manifest.records[0]!.split)[0]!.path));
      assert.ok(bytes.length > 100);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
