import assert from "node:assert/strict";
import { describe, it } from "node:test";
import sharp from "sharp";
import {
  applyDistortion,
  augmentForChallenge,
  augmentRaster,
  createRaster,
  drawLevel,
  Prng,
  planScene,
  randomResizedCropBox,
  renderScene,
} from "../src/index.ts";

async function jpegQuality(jpeg: Buffer): Promise<number> {
  // Re-encoding at the same quality barely changes a JPEG; at another quality it does. Cheap proxy check below.
  return (await sharp(jpeg).metadata()).chromaSubsampling === "4:2:0" ? 1 : 0;
}

describe("validator augmentation", () => {
  it("always yields a 224×224 baseline JPEG with 4:2:0 chroma, at every level", async () => {
    const { jpeg } = await renderScene(planScene(5));
    for (const level of [0, 1, 2, 3] as const) {
      for (let k = 0; k < 3; k++) {
        const c = await augmentForChallenge(jpeg, level, new Prng(`t:${level}:${k}`));
        const meta = await sharp(c.jpeg).metadata();
        assert.equal(meta.format, "jpeg");
        assert.equal(meta.width, 224);
        assert.equal(meta.height, 224);
        assert.equal(meta.isProgressive, false);
        assert.equal(await jpegQuality(c.jpeg), 1);
        assert.equal(c.augmentation.level, level);
        if (level === 0) assert.equal(c.augmentation.rotationDegrees, undefined);
        else assert.ok(Math.abs(c.augmentation.rotationDegrees!) <= 20);
        if (level < 2) assert.deepEqual(c.augmentation.distortions, {});
        for (const d of Object.values(c.augmentation.distortions)) assert.ok(d! >= 1 && d! <= (level === 2 ? 1 : 2));
      }
    }
  });

  it("is deterministic for a seed and accepts images of any size", async () => {
    const { jpeg } = await renderScene(planScene(9));
    const a = await augmentForChallenge(jpeg, 3, new Prng("same"));
    const b = await augmentForChallenge(jpeg, 3, new Prng("same"));
    assert.deepEqual(a.jpeg, b.jpeg);
    const tall = await sharp({ create: { width: 101, height: 333, channels: 3, background: "#c63" } })
      .png()
      .toBuffer();
    const c = await augmentForChallenge(tall, 1, new Prng("tall"));
    assert.equal((await sharp(c.jpeg).metadata()).width, 224);
  });

  it("samples square crops with scale 0.2..1 of the area inside the image", () => {
    const rng = new Prng("crop");
    for (let i = 0; i < 500; i++) {
      const box = randomResizedCropBox(320, 240, rng);
      assert.ok(box.left >= 0 && box.top >= 0 && box.left + box.size <= 320 && box.top + box.size <= 240);
      assert.ok(box.size >= Math.round(Math.sqrt(0.2 * 320 * 240)) - 1);
    }
  });

  it("draws the four levels uniformly", () => {
    const rng = new Prng("levels");
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[drawLevel(rng)]!++;
    for (const c of counts) assert.ok(c > 900 && c < 1100, `counts ${counts}`);
  });

  it("never flips (the validators' flip transforms never fire) and keeps level 0 a centre crop", () => {
    // A left-right gradient stays increasing after level 1 with zero rotation luck is not guaranteed, so check level 0
    // and the absence of any flip field instead.
    const r = createRaster(8, 4);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 8; x++) r.data.fill(x * 30, (y * 8 + x) * 3, (y * 8 + x) * 3 + 3);
    const out = augmentRaster(r, 0, new Prng("x")).raster;
    assert.equal(out.width, 224);
    assert.ok(out.data[0]! < out.data[(224 - 1) * 3]!, "left stays left");
    const aug = augmentRaster(r, 1, new Prng("y")).augmentation as unknown as Record<string, unknown>;
    assert.equal("flip" in aug, false);
  });

  it("applies the distortion tables: saturation, contrast, blur", () => {
    const r = createRaster(16, 16);
    for (let i = 0; i < r.data.length; i += 3) r.data.set([200, 100, 50], i);
    const cs = applyDistortion(r, "CS", 1, new Prng(1));
    const y = 0.299 * 200 + 0.587 * 100 + 0.114 * 50;
    assert.equal(cs.data[0], Math.floor(y + (200 - y) * 0.4));
    const cc = applyDistortion(r, "CC", 2, new Prng(1));
    assert.equal(cc.data[0], Math.floor(200 * 0.725));
    const gb = applyDistortion(r, "GB", 1, new Prng(1));
    assert.equal(gb.data[0], 200); // a flat image stays flat under blur
    const gnc = applyDistortion(r, "GNC", 1, new Prng(1));
    assert.notDeepEqual(gnc.data, r.data);
  });
});
