// The pixel budget charges what a decode will allocate: a native JPEG frame that the scorer decodes with shrink-on-load
// costs its reduced size; PNG (a bomb's format) and rotated JPEGs their full header size; the per-image cap is on the
// header either way.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildTinyClassifier, ImageInputError, loadScorer, type Scorer, writeBundle } from "@roadwork/inference";
import sharp from "sharp";
import { imageSize, pixelCost } from "../src/image-size.ts";

let root: string;
let scorer: Scorer;
const frame = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: "#5a5a60" } });

before(async () => {
  root = await mkdtemp(join(tmpdir(), "roadwork-pixels-"));
  const dir = join(root, "bundle");
  await writeBundle(
    dir,
    {
      name: "pixels",
      version: "1.0.0",
      members: [
        {
          id: "m",
          onnx: "m.onnx",
          input: { name: "pixel_values", shape: ["N", 3, 224, 224], dtype: "float32" },
          // Letterboxed (the default frame policy): a 16:9 frame is resized to 224×126.
          preprocessing: { size: { height: 224, width: 224 }, resample: 2 },
          output: { name: "probability", kind: "sigmoid" },
        },
      ],
    },
    { "m.onnx": buildTinyClassifier({ seed: 1 }) },
  );
  scorer = await loadScorer({ model: dir, cacheSize: 0 });
});
after(async () => {
  await scorer.close();
  await rm(root, { recursive: true, force: true });
});

test("a 1920×1080 JPEG decoded with shrink-on-load is charged its reduced decode, not its header", async () => {
  const jpeg = new Uint8Array(await frame(1920, 1080).jpeg({ quality: 75 }).toBuffer());
  assert.deepEqual(imageSize(jpeg), { format: "jpeg", width: 1920, height: 1080 });
  // sharp decodes it at 1/4 (480×270) and resizes to 224×126: both buffers are charged.
  assert.equal(pixelCost(jpeg, 24_000_000, scorer), 480 * 270 + 224 * 126);
  assert.ok(pixelCost(jpeg, 24_000_000, scorer) < (1920 * 1080) / 10);
  // Without a scorer that can say, the header's full size (the old charge).
  assert.equal(pixelCost(jpeg, 24_000_000), 1920 * 1080);
  // And it still scores: the charge describes a decode that works.
  const scored = await scorer.score(jpeg);
  assert.ok(scored.score > 0 && scored.score < 1);
});

test("PNG, a rotated JPEG and a small JPEG are charged in full; the per-image cap stays on the header", async () => {
  const png = new Uint8Array(await frame(1920, 1080).png({ compressionLevel: 9 }).toBuffer());
  assert.equal(pixelCost(png, 24_000_000, scorer), 1920 * 1080);
  const turned = new Uint8Array(await frame(1920, 1080).jpeg().withMetadata({ orientation: 6 }).toBuffer());
  assert.equal(pixelCost(turned, 24_000_000, scorer), 1920 * 1080);
  const crop = new Uint8Array(await frame(224, 224).jpeg().toBuffer());
  assert.equal(pixelCost(crop, 24_000_000, scorer), 224 * 224);
  // A frame over the per-image cap is refused from its header even though its decode would be small.
  const big = new Uint8Array(await frame(4000, 3000).jpeg({ quality: 50 }).toBuffer());
  assert.throws(
    () => pixelCost(big, 10_000_000, scorer),
    (e: unknown) => e instanceof ImageInputError && e.reason === "too_many_pixels",
  );
  assert.ok(pixelCost(big, 24_000_000, scorer) < 1_000_000, "1/8-scale decode of a 12 MP JPEG");
  // Unreadable headers are charged the whole per-image budget.
  assert.equal(pixelCost(new TextEncoder().encode("GIF89a...."), 5_000, scorer), 5_000);
});
