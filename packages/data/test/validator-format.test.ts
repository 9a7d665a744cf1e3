import assert from "node:assert/strict";
import { describe, it } from "node:test";
import sharp from "sharp";
import {
  augmentRaster,
  createRaster,
  drawFormat,
  formatChallenge,
  letterbox,
  letterboxAugment,
  Prng,
  parseFormatMix,
  type Raster,
} from "../src/index.ts";

/** A grey 16:9 frame with a saturated orange block touching its right edge (roadwork at the frame's edge). */
function frameWithEdgeObject(width = 640, height = 360): Raster {
  const r = createRaster(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const edge = x >= width - 40 && y >= height / 2 - 40 && y < height / 2 + 40;
      r.data.set(edge ? [255, 110, 0] : [120, 120, 120], o);
    }
  }
  return r;
}

const orangeCount = (r: Raster): number => {
  let n = 0;
  for (let i = 0; i < r.data.length; i += 3) if (r.data[i]! > 200 && r.data[i + 1]! < 160 && r.data[i + 2]! < 60) n++;
  return n;
};

describe("validator formats", () => {
  it("letterboxes a 16:9 frame to 224×224 with black bars and nothing cropped off the edges", () => {
    const frame = frameWithEdgeObject();
    const boxed = letterbox(frame);
    assert.equal(boxed.width, 224);
    assert.equal(boxed.height, 224);
    // 640×360 → 224×126: bars of 49 rows above and 49 below.
    for (const y of [0, 48, 175, 223])
      assert.deepEqual([...boxed.data.subarray(y * 224 * 3, y * 224 * 3 + 3)], [0, 0, 0]);
    assert.notDeepEqual([...boxed.data.subarray(49 * 224 * 3, 49 * 224 * 3 + 3)], [0, 0, 0]);
    // The object at the right edge survives (≈ 14×28 px after scaling); January's centre crop loses it.
    assert.ok(orangeCount(boxed) > 300, `orange pixels after letterbox: ${orangeCount(boxed)}`);
    const jan0 = augmentRaster(frame, 0, new Prng("x")).raster;
    assert.equal(orangeCount(jan0), 0);
    // Level 1+ adds rotation on top of the letterbox, never a crop.
    const rotated = letterboxAugment(frame, 1, new Prng("r"));
    assert.ok(rotated.augmentation.rotationDegrees !== undefined && rotated.augmentation.crop === undefined);
  });

  it("sends May frames at native resolution, re-encoded as baseline JPEG q75 4:2:0, without augmentation", async () => {
    const png = await sharp({ create: { width: 1920, height: 1080, channels: 3, background: "#787878" } })
      .composite([
        {
          input: { create: { width: 120, height: 240, channels: 3, background: "#ff6e00" } },
          left: 1800,
          top: 420,
        },
      ])
      .png()
      .toBuffer();
    const c = await formatChallenge(png, "may", new Prng("m"));
    const meta = await sharp(c.jpeg).metadata();
    assert.deepEqual(
      [meta.format, meta.width, meta.height, meta.chromaSubsampling, meta.isProgressive],
      ["jpeg", 1920, 1080, "4:2:0", false],
    );
    assert.equal(c.augmentation, undefined);
    const apr = await formatChallenge(png, "apr", new Prng("a"));
    assert.deepEqual([apr.width, apr.height], [224, 224]);
  });

  it("parses format mixes and draws formats in proportion", () => {
    assert.deepEqual(parseFormatMix("jan,apr,may"), { jan: 1, apr: 1, may: 1 });
    assert.deepEqual(parseFormatMix("may:3, jan"), { may: 3, jan: 1 });
    assert.throws(() => parseFormatMix("june"), /jan, apr, may/);
    assert.throws(() => parseFormatMix("jan:-1"), /jan, apr, may/);
    const rng = new Prng("mix");
    const counts = { jan: 0, apr: 0, may: 0 };
    for (let i = 0; i < 3000; i++) counts[drawFormat(rng, { jan: 1, may: 2 })]++;
    assert.equal(counts.apr, 0);
    assert.ok(Math.abs(counts.may / 3000 - 2 / 3) < 0.04, JSON.stringify(counts));
  });
});
