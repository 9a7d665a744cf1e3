// Preprocessing fidelity against reference outputs made by fixtures/make-preprocess-fixtures.py (PIL + numpy,
// mirroring transformers' ViT / BitImageProcessor (DINOv2) / ConvNext processors).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import sharp from "sharp";
import { decodeImage } from "../src/image/decode.ts";
import { centerCrop, geometry, parsePreprocessing, preprocess, shortestEdgeSize } from "../src/image/preprocess.ts";
import { resizeRgb } from "../src/image/resample.ts";

const dir = join(import.meta.dirname, "fixtures", "preprocess");

interface Case {
  image: string;
  config: string;
  height: number;
  width: number;
  geometry: string;
  channel_mean: number[];
  samples: [number, number, number, number][];
}
const expected = JSON.parse(await readFile(join(dir, "expected.json"), "utf8")) as {
  configs: Record<string, unknown>;
  cases: Case[];
};

async function rawPixels(file: string): Promise<Uint8Array> {
  const { data } = await sharp(await readFile(join(dir, file)))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return data;
}

// Tolerances. Lossless inputs: the PIL port must be exact (0 levels; normalized values then agree to float32
// rounding). JPEG input: PIL (libjpeg-turbo) and sharp (mozjpeg) could round the IDCT differently, so one level is
// allowed, which is ≤ 0.0175 after ImageNet normalization (max abs diff ≤ 0.02). Measured on these fixtures:
// 0 levels in all 12 cases, max |Δ| after normalization 1.2e-7.
const MAX_LEVELS = { png: 0, jpg: 1 } as const;
const MAX_NORMALIZED = { png: 1e-5, jpg: 0.02 } as const;
const MAX_MEAN = { png: 1e-5, jpg: 0.005 } as const;

for (const c of expected.cases) {
  test(`${c.image} with ${c.config} matches the transformers/PIL reference`, async () => {
    const kind = c.image.endsWith(".png") ? "png" : "jpg";
    // The processor's own geometry (crop included), which the PIL reference reproduces.
    const spec = parsePreprocessing({ ...(expected.configs[c.config] as object), frame_policy: "processor" });
    const img = await decodeImage(await readFile(join(dir, c.image)));
    const geo = geometry(img, spec);
    assert.deepEqual([geo.height, geo.width], [c.height, c.width]);
    const ref = await rawPixels(c.geometry);
    let maxLevels = 0;
    for (let i = 0; i < ref.length; i++)
      maxLevels = Math.max(maxLevels, Math.abs((ref[i] as number) - (geo.data[i] as number)));
    assert.ok(maxLevels <= MAX_LEVELS[kind], `max |Δ| ${maxLevels} levels`);

    const t = preprocess(img, spec);
    const plane = c.height * c.width;
    for (let ch = 0; ch < 3; ch++) {
      let sum = 0;
      for (let i = 0; i < plane; i++) sum += t.data[ch * plane + i] as number;
      const diff = Math.abs(sum / plane - (c.channel_mean[ch] as number));
      assert.ok(diff <= MAX_MEAN[kind], `channel ${ch} mean off by ${diff}`);
    }
    for (const [ch, y, x, v] of c.samples) {
      const got = t.data[ch * plane + y * c.width + x] as number;
      assert.ok(Math.abs(got - v) <= MAX_NORMALIZED[kind], `(${ch},${y},${x}) ${got} vs ${v}`);
    }
  });
}

test("shortest-edge sizes and zero-padded center crops follow transformers", () => {
  assert.deepEqual(shortestEdgeSize(300, 200, 256), { width: 384, height: 256 });
  assert.deepEqual(shortestEdgeSize(150, 260, 256), { width: 256, height: 443 });
  const small = { data: new Uint8Array(4 * 2 * 3).fill(9), width: 4, height: 2, format: "raw" };
  const c = centerCrop(small, 6, 4);
  // rows: pad 1 above, 1 below; columns: pad 1 left, 1 right
  assert.equal(c.data[0], 0);
  assert.equal(c.data[(1 * 6 + 1) * 3], 9);
  assert.equal(c.data[(1 * 6 + 5) * 3], 0);
  assert.throws(() => resizeRgb(new Uint8Array(12), 2, 2, 1, 1, 0), /resample 0 is not supported/);
});
