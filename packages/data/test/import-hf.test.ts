// The NATIX Hugging Face importer against a loopback Hub serving parquet shards written the way `datasets` writes
// them: a private repo (token required), revisions, retried transient failures, a corrupt image, a missing label, a
// truncated shard, and an import resumed after a shard failed.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeHub } from "../../../test/support/fake-hub.ts";
import { type HfImageRow, hfImageParquet, shardPath } from "../../../test/support/hf-parquet.ts";
import { HubClient, importHfDataset, loadManifest, localDatasetStore, sha256Hex } from "../src/index.ts";
import { blockImage } from "./support/images.ts";

const TOKEN = "hf_test_read_token_do_not_log";
const REPO = "natix-network-org/roadwork";

describe("import hf://datasets (NATIX parquet layout)", () => {
  let hub: FakeHub;
  let dir: string;
  let images: Uint8Array[];
  let shardA: Uint8Array;
  let shardB: Uint8Array;
  let firstCommit: string;
  const lines: string[] = [];
  const progress = (l: string) => lines.push(l);
  const client = (token: string | undefined = TOKEN) =>
    new HubClient({ endpoint: hub.url, ...(token ? { token } : {}), backoffMs: 20 });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "import-hf-"));
    images = await Promise.all(
      Array.from({ length: 9 }, (_, i) => blockImage(500 + i, { format: i === 8 ? "png" : "jpeg" })),
    );
    const row = (bytes: Uint8Array | null, label: number | null, scene: string): HfImageRow => ({
      image: bytes ? { bytes, path: null } : null,
      label,
      scene_description: scene,
    });
    const corrupt = images[0]!.subarray(0, Math.floor(images[0]!.length * 0.6));
    shardA = hfImageParquet(
      [
        row(images[0]!, 1, "cones closing the right lane"),
        row(images[1]!, 0, "empty highway at dusk"),
        row(images[2]!, 1, "workers and an excavator"),
        row(images[3]!, 0, "city street, parked cars"),
        row(corrupt, 1, "corrupt bytes"),
        row(images[4]!, null, "label missing"),
        row(images[0]!, 1, "the same photo again"),
      ],
      { rowGroupSize: 3 },
    );
    shardB = hfImageParquet(
      [
        row(images[5]!, 1, "barrier"),
        row(images[6]!, 0, "bridge"),
        row(images[7]!, 1, "sign"),
        row(images[8]!, 0, "png"),
      ],
      { classNames: ["no_roadwork", "roadwork"] },
    );
    const whole = hfImageParquet([row(images[1]!, 0, "x"), row(images[2]!, 1, "y")]);
    const truncated = whole.subarray(0, Math.floor(whole.length * 0.6));

    hub = await new FakeHub().start();
    hub.addToken(TOKEN, { user: "miner", role: "read", orgs: ["natix-network-org"] });
    firstCommit = hub.addFiles(REPO, { [shardPath("train", 0, 3)]: shardA }, { type: "dataset", private: true });
    hub.setRef(REPO, "v1", firstCommit, "dataset");
    hub.addFiles(
      REPO,
      {
        "README.md": new TextEncoder().encode("# roadwork\n"),
        [shardPath("train", 1, 3)]: shardB,
        [shardPath("train", 2, 3)]: truncated,
      },
      { type: "dataset" },
    );
    hub.treePageSize = 2; // the client must follow the Link header
  });
  after(async () => {
    await hub.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a private dataset without HF_TOKEN, with what to do", async () => {
    const store = localDatasetStore(join(dir, "none"));
    await assert.rejects(
      importHfDataset({ store, hub: client(""), uri: `hf://datasets/${REPO}` }),
      /not found .*set HF_TOKEN/,
    );
    await assert.rejects(
      importHfDataset({ store, hub: client(), uri: `hf://datasets/${REPO}@no-such-branch` }),
      /revision not found/,
    );
  });

  it("imports, reports per-record errors without aborting, and resumes where it stopped", async () => {
    const store = localDatasetStore(join(dir, "natix"));
    const cdnA = `/_cdn/${createHash("sha256").update(shardA).digest("hex")}`;
    const cdnB = `/_cdn/${createHash("sha256").update(shardB).digest("hex")}`;
    // Run 1: the tree listing fails once (retried); shard B cannot be downloaded at all (the run goes on without it).
    hub.inject({ path: "/tree/", status: 503, times: 1 });
    hub.inject({ path: cdnB, status: 500, times: 100 });
    const r1 = await importHfDataset({ store, hub: client(), uri: `hf://datasets/${REPO}`, progress });
    hub.clearFaults();
    assert.equal(r1.added, 5, "4 labelled + 1 unlabelled; the duplicate row is not added twice");
    assert.equal(r1.alreadyPresent, 1);
    assert.ok(
      r1.errors.some((e) => e.where === `${shardPath("train", 0, 3)} row 4` && /cannot decode/.test(e.message)),
      "corrupt row",
    );
    assert.ok(
      r1.errors.some((e) => e.where === shardPath("train", 1, 3) && /HTTP 500/.test(e.message)),
      "shard B",
    );
    assert.ok(
      r1.errors.some((e) => e.where === shardPath("train", 2, 3) && /not a readable parquet/.test(e.message)),
      "shard C",
    );
    assert.ok(
      r1.warnings.some((w) => w.where === `${shardPath("train", 0, 3)} row 5` && /no label/.test(w.message)),
      "missing label",
    );
    const v1 = r1.version!;
    assert.deepEqual(v1.counts.bySource.natix, { total: 5, positive: 2, unlabelled: 1 });
    const first = v1.records.find((r) => r.sha256 === sha256Hex(images[0]!))!;
    assert.equal(first.labelSource, "ground-truth");
    assert.equal(first.labelConfidence, 1);
    assert.equal(first.details.sceneDescription, "cones closing the right lane");
    assert.equal(first.details.row, 0);
    assert.match(first.details.dataset!, new RegExp(`^${REPO}@[0-9a-f]{40}$`));
    assert.deepEqual(await store.getImage(first.sha256), images[0]);
    assert.equal(v1.name, REPO);

    // Run 2: shard A was finished, so it is not downloaded again; shard B's body is cut short once (retried).
    const cdnRequestsBefore = hub.requests.filter((r) => r.path === cdnA).length;
    hub.inject({ path: cdnB, truncateAfter: 100, times: 1 });
    const r2 = await importHfDataset({ store, hub: client(), uri: `hf://datasets/${REPO}`, progress });
    hub.clearFaults();
    assert.equal(hub.requests.filter((r) => r.path === cdnA).length, cdnRequestsBefore, "shard A downloaded again");
    assert.ok(lines.some((l) => /shard 1\/3 .*imported earlier \(6 images\), skipped/.test(l)));
    assert.equal(r2.added, 4);
    assert.equal(r2.version!.parent, v1.id);
    assert.deepEqual(r2.version!.counts.bySource.natix, { total: 9, positive: 4, unlabelled: 1 });
    assert.equal(r2.version!.records.find((r) => r.sha256 === sha256Hex(images[8]!))!.mediaType, "image/png");
    assert.equal(r2.version!.records.find((r) => r.sha256 === sha256Hex(images[5]!))!.label, 1, "ClassLabel name");

    // Run 3: nothing new, no new version.
    const r3 = await importHfDataset({ store, hub: client(), uri: `hf://datasets/${REPO}`, progress });
    assert.equal(r3.changed, false);
    assert.equal(r3.added, 0);
    assert.equal((await store.listVersions()).length, 2);

    // The imported data trains: the training view holds the labelled images, val/test natix only.
    const view = await loadManifest(join(dir, "natix"));
    assert.equal(view.manifest.records.length, 8);
    assert.equal(view.manifest.source, "natix");

    for (const l of lines) assert.ok(!l.includes(TOKEN), "the token reached the progress output");
  });

  it("pins a revision (tag) to its commit", async () => {
    const store = localDatasetStore(join(dir, "v1"));
    const r = await importHfDataset({ store, hub: client(), uri: `hf://datasets/${REPO}@v1` });
    assert.equal(r.errors.length, 1, "only the corrupt row; shards B and C are not in v1");
    assert.equal(r.version!.records.length, 5);
    assert.equal(r.version!.records[0]!.details.dataset, `${REPO}@${firstCommit}`);
    assert.equal(r.version!.note, `import hf://datasets/${REPO}@${firstCommit}`);
  });
});
