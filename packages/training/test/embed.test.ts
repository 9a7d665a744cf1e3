// Embedding extraction with the preprocessing inside the graph (uint8 NHWC in, as on CUDA) gives the rows the JS
// preprocessing gives, and the extractor's phase profile accounts for its batches.
import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import { demoBackboneInput, EmbeddingExtractor, extractorSpec } from "../src/index.ts";

async function jpeg(seed: number, width: number, height: number): Promise<Uint8Array> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + seed * 97 + ((i / 3 / width) | 0) * 7) % 256;
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 75 })
    .toBuffer();
}

test("in-graph preprocessing embeds like the JS path, and the profile counts every batch", async () => {
  const spec = extractorSpec(demoBackboneInput());
  // 224×224 crops and non-square frames (letterboxed before the graph), 7 images in batches of 3.
  const images = await Promise.all([0, 1, 2, 3, 4, 5, 6].map((i) => (i % 2 ? jpeg(i, 224, 224) : jpeg(i, 320, 240))));
  const inJs = await EmbeddingExtractor.load(spec, { preprocessInGraph: "never" });
  const inGraph = await EmbeddingExtractor.load(spec, { preprocessInGraph: "always" });
  try {
    assert.equal(inJs.layout, "nchw-float");
    assert.equal(inGraph.layout, "nhwc-uint8");
    const a = await inJs.embed(images.length, async (i) => images[i]!, { batchSize: 3 });
    const g = await inGraph.embed(images.length, async (i) => images[i]!, { batchSize: 3 });
    assert.equal(g.rows, 7);
    assert.equal(g.cols, a.cols);
    let worst = 0;
    for (let i = 0; i < a.data.length; i++) {
      const d = Math.abs(a.data[i]! - g.data[i]!) / Math.max(1, Math.abs(a.data[i]!));
      worst = Math.max(worst, d);
    }
    assert.ok(worst < 1e-3, `largest relative difference ${worst}`);
    assert.equal(inGraph.stats.images, 7);
    assert.equal(inGraph.stats.batches, 3);
    assert.ok(inGraph.stats.prepareMs > 0 && inGraph.stats.runMs > 0);
  } finally {
    await inJs.close();
    await inGraph.close();
  }
});
