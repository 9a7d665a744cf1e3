// The capture contract: what the axon's LocalCaptureStore writes, the dataset's captures importer reads.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { importCaptures, LocalBlobStore, localDatasetStore, sha256Hex } from "@roadwork/data";
import { LocalCaptureStore } from "@roadwork/miner";
import { blockImage } from "../../packages/data/test/support/images.ts";

describe("captured challenges: axon capture → dataset import", () => {
  it("imports what LocalCaptureStore wrote, with score, model, caller, format and testnet label", async () => {
    const dir = await mkdtemp(join(tmpdir(), "captures-contract-"));
    try {
      const captures = new LocalCaptureStore(join(dir, "data"));
      const write = async (seed: number, testnetLabel: 0 | 1 | null, validatorFormat: "crop-224" | "native") => {
        const image = await blockImage(seed, { size: 224 });
        const sha256 = sha256Hex(image);
        await captures.put(
          {
            schemaVersion: 1,
            sha256,
            file: `${sha256}.jpg`,
            mediaType: "image/jpeg",
            width: 224,
            height: 224,
            byteLength: image.byteLength,
            capturedAt: "2026-11-30T07:00:00.000Z",
            requestId: `req-${seed}`,
            score: 0.47,
            prediction: 0.47,
            modelVersion: "1.0.0+abc",
            callerHotkey: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
            callerUid: 3,
            validatorFormat,
            testnetLabel,
            reason: "near-threshold",
          },
          image,
        );
        return sha256;
      };
      const a = await write(900, 1, "crop-224");
      const b = await write(901, null, "native");
      const store = localDatasetStore(join(dir, "dataset"));
      const r = await importCaptures({ store, captures: new LocalBlobStore(join(dir, "data")) });
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.warnings, []);
      assert.equal(r.added, 2);
      const ra = r.version!.records.find((x) => x.sha256 === a)!;
      assert.deepEqual(
        [ra.source, ra.label, ra.labelSource, ra.details.validatorFormat, ra.details.score, ra.details.callerHotkey],
        ["captured", 1, "testnet-label", "crop-224", 0.47, "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"],
      );
      assert.equal(ra.details.modelVersion, "1.0.0+abc");
      assert.equal(ra.details.capturedAt, "2026-11-30T07:00:00.000Z");
      const rb = r.version!.records.find((x) => x.sha256 === b)!;
      assert.equal(rb.label, null);
      assert.equal(rb.details.validatorFormat, "native");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
