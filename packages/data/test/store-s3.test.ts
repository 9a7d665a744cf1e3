import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CreateBucketCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { type FauxqsServer, startFauxqs } from "fauxqs";
import { deriveVersion, describeImage, newRecord, s3DatasetStore, sha256Hex } from "../src/index.ts";
import { blockImage } from "./support/images.ts";

describe("dataset store on S3 (fauxqs, real SDK)", () => {
  let server: FauxqsServer;
  let s3: S3Client;
  before(async () => {
    server = await startFauxqs({ port: 0, logger: false });
    s3 = new S3Client({
      endpoint: server.address,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      forcePathStyle: true,
    });
    await s3.send(new CreateBucketCommand({ Bucket: "data" }));
  });
  after(async () => {
    s3.destroy();
    await server.stop();
  });

  it("stores images by sha256, versions immutably, and a latest pointer, under a prefix", async () => {
    const store = s3DatasetStore(s3, "data", "datasets/roadwork");
    assert.equal(await store.latestVersion(), null);
    assert.deepEqual(await store.listVersions(), []);
    const bytes = await blockImage(7);
    const sha = await store.putImage(bytes);
    assert.equal(sha, sha256Hex(bytes));
    assert.equal(await store.putImage(bytes), sha, "storing twice is a no-op");
    assert.ok(await store.hasImage(sha));
    assert.equal(await store.hasImage("0".repeat(64)), false);
    assert.deepEqual(await store.getImage(sha), bytes);
    await assert.rejects(store.getImage("1".repeat(64)), /not in s3:\/\/data\/datasets\/roadwork\//);

    const raw = await s3.send(
      new GetObjectCommand({ Bucket: "data", Key: `datasets/roadwork/images/${sha.slice(0, 2)}/${sha}` }),
    );
    assert.equal(raw.ContentType, "image/jpeg");

    const record = newRecord(await describeImage(bytes), { source: "natix", label: 1, labelSource: "ground-truth" });
    const v1 = await store.commit(deriveVersion(null, { note: "one", add: [record] }));
    assert.equal(await store.getLatest(), v1.id);
    assert.deepEqual(await store.listVersions(), [v1.id]);
    assert.equal((await store.getVersion(v1.id)).records[0]!.sha256, sha);
    assert.equal(await store.resolveVersion(v1.id.slice(0, 8)), v1.id);
    await store.putVersion(v1);

    const v2 = (await store.update({ note: "unlabel", labels: [] })).version;
    assert.equal(v2.id, v1.id, "an empty change makes no version");
    await store.putState("import-x", { done: ["a"] });
    assert.deepEqual(await store.getState("import-x"), { done: ["a"] });
    assert.equal(await store.getState("missing"), undefined);
    // Another prefix is another store.
    assert.equal(await s3DatasetStore(s3, "data", "other").getLatest(), undefined);
  });
});
