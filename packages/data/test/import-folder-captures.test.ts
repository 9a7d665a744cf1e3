import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  generateDataset,
  importCaptures,
  importFolder,
  LocalBlobStore,
  localDatasetStore,
  migrateProceduralManifest,
  parseCsv,
  sha256Hex,
} from "../src/index.ts";
import { blockImage } from "./support/images.ts";

describe("folder, CSV, captures and procedural importers", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "import-folder-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("imports class folders, reports unreadable files, and skips what it has on a re-run", async () => {
    const src = join(dir, "photos");
    await mkdir(join(src, "roadwork", "day"), { recursive: true });
    await mkdir(join(src, "no-roadwork"), { recursive: true });
    await mkdir(join(src, "misc"), { recursive: true });
    await writeFile(join(src, "roadwork", "a.jpg"), await blockImage(600));
    await writeFile(join(src, "roadwork", "day", "b.png"), await blockImage(601, { format: "png" }));
    await writeFile(join(src, "no-roadwork", "c.jpg"), await blockImage(602));
    await writeFile(join(src, "no-roadwork", "broken.jpg"), (await blockImage(603)).subarray(0, 200));
    await writeFile(join(src, "no-roadwork", "notes.txt"), "not an image");
    await writeFile(join(src, "misc", "d.jpg"), await blockImage(604));
    const store = localDatasetStore(join(dir, "store-folder"));
    const lines: string[] = [];
    const r1 = await importFolder({ store, folder: src, progress: (l) => lines.push(l) });
    assert.equal(r1.added, 3);
    assert.equal(r1.errors.length, 1);
    assert.match(r1.errors[0]!.where, /broken\.jpg/);
    assert.ok(r1.warnings.some((w) => /misc/.test(w.where) && /not a class folder/.test(w.message)));
    assert.deepEqual(r1.version!.counts.bySource.folder, { total: 3, positive: 2, unlabelled: 0 });
    assert.ok(r1.version!.records.every((r) => r.labelSource === "human" && r.details.file !== undefined));
    assert.ok(lines.length > 0);
    const r2 = await importFolder({ store, folder: src });
    assert.equal(r2.changed, false);
    assert.equal(r2.added, 0);
    assert.equal(r2.alreadyPresent, 3);
    await assert.rejects(importFolder({ store, folder: join(src, "misc") }), /no class folders/);
  });

  it("imports a CSV of path,label with quoting, empty labels as unlabelled and bad labels as errors", async () => {
    const src = join(dir, "csv");
    await mkdir(join(src, "img"), { recursive: true });
    await writeFile(join(src, "img", "x, 1.jpg"), await blockImage(610));
    await writeFile(join(src, "img", "y.jpg"), await blockImage(611));
    await writeFile(join(src, "img", "z.jpg"), await blockImage(612));
    await writeFile(
      join(src, "labels.csv"),
      'path,label\r\n"img/x, 1.jpg",1\r\nimg/y.jpg,\r\nimg/z.jpg,maybe\r\nimg/missing.jpg,0\r\n',
    );
    assert.deepEqual(parseCsv('a,"b ""c"""\n1,2'), [
      ["a", 'b "c"'],
      ["1", "2"],
    ]);
    const store = localDatasetStore(join(dir, "store-csv"));
    const r = await importFolder({ store, folder: src, csv: join(src, "labels.csv"), labelSource: "ground-truth" });
    assert.equal(r.added, 2);
    assert.equal(r.seen, 4);
    assert.deepEqual(
      r.errors.map((e) => e.message),
      ["label 'maybe' is not 0, 1 or empty", "cannot read: ENOENT"],
    );
    const x = r.version!.records.find((v) => v.details.file === "img/x, 1.jpg")!;
    assert.equal(x.label, 1);
    assert.equal(x.labelSource, "ground-truth");
    assert.equal(r.version!.records.find((v) => v.details.file === "img/y.jpg")!.label, null);
  });

  it("imports captured challenges with their prediction records, testnet labels as labels", async () => {
    const root = join(dir, "capture-root");
    const day = join(root, "captures", "2026", "11", "30");
    await mkdir(day, { recursive: true });
    const put = async (seed: number, record: Record<string, unknown> | null) => {
      const bytes = await blockImage(seed);
      const sha = sha256Hex(bytes);
      await writeFile(join(day, `${sha}.jpg`), bytes);
      if (record) await writeFile(join(day, `${sha}.json`), JSON.stringify({ sha256: sha, ...record }));
      return sha;
    };
    const labelled = await put(620, {
      score: 0.52,
      model_version: "1.0.0+abc",
      caller_hotkey: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
      format_guess: "letterbox",
      testnet_label: 1,
      captured_at: "2026-11-30T06:00:00Z",
    });
    const unlabelled = await put(621, { score: 0.1, modelVersion: "1.0.0+abc", formatGuess: "native" });
    await put(622, null);
    // A record whose image is not there, and an image whose name is not its hash.
    await writeFile(join(day, `${"e".repeat(64)}.json`), JSON.stringify({ score: 0.4 }));
    await writeFile(join(day, `${"f".repeat(64)}.jpg`), await blockImage(623));
    const store = localDatasetStore(join(dir, "store-captures"));
    const r = await importCaptures({ store, captures: new LocalBlobStore(root) });
    assert.equal(r.added, 3);
    assert.equal(r.errors.length, 2);
    assert.ok(r.warnings.some((w) => /without a prediction record/.test(w.message)));
    const l = r.version!.records.find((x) => x.sha256 === labelled)!;
    assert.equal(l.source, "captured");
    assert.equal(l.label, 1);
    assert.equal(l.labelSource, "testnet-label");
    assert.equal(l.details.validatorFormat, "letterbox-224");
    assert.equal(l.details.score, 0.52);
    const u = r.version!.records.find((x) => x.sha256 === unlabelled)!;
    assert.equal(u.label, null);
    assert.equal(u.split, null);
    assert.equal(u.details.validatorFormat, "native");
    const empty = localDatasetStore(join(dir, "store-empty"));
    const none = await importCaptures({ store: empty, captures: new LocalBlobStore(join(dir, "no-captures")) });
    assert.equal(none.version, null, "nothing imported into an empty store writes no version");
    assert.deepEqual(await empty.listVersions(), []);
    const again = await importCaptures({ store, captures: new LocalBlobStore(root) });
    assert.equal(again.changed, false);
    assert.equal(again.alreadyPresent, 3);
  });

  it("migrates a version-1 procedural manifest into a store version that trains", async () => {
    const legacy = await generateDataset({ dir: join(dir, "legacy"), count: 12, baseSeed: 3 });
    const store = localDatasetStore(join(dir, "store-migrated"));
    const r = await migrateProceduralManifest(join(dir, "legacy", "manifest.json"), store);
    assert.equal(r.added, 12);
    assert.equal(r.errors.length, 0);
    const v = r.version!;
    assert.deepEqual(v.splitPolicy.evalSources, ["procedural"]);
    assert.equal(v.counts.bySource.procedural!.total, 12);
    assert.equal(v.counts.bySource.procedural!.positive, legacy.manifest.records.filter((x) => x.label === 1).length);
    assert.ok(
      v.records.every((x) => x.details.generator === "roadwork-procedural-scenes" && x.details.seed !== undefined),
    );
  });
});
