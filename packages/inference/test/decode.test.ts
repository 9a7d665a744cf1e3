import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import { decodeImage } from "../src/image/decode.ts";
import { ImageInputError } from "../src/scorer.ts";
import { headerBombPng, jpeg, png, rawImage, scene, solid } from "./images.ts";

async function rejects(bytes: Uint8Array, reason: ImageInputError["reason"], message: RegExp, maxPixels?: number) {
  await assert.rejects(decodeImage(bytes, maxPixels ? { maxPixels } : {}), (e: unknown) => {
    assert.ok(e instanceof ImageInputError, `expected ImageInputError, got ${e}`);
    assert.equal(e.reason, reason);
    assert.match(e.message, message);
    return true;
  });
}
const px = (img: { data: Uint8Array; width: number }, x: number, y: number) => [
  ...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3),
];
const near = (a: number[], b: number[], tol: number) => a.every((v, i) => Math.abs(v - (b[i] as number)) <= tol);

test("JPEG decodes to 8-bit RGB HWC", async () => {
  const img = await decodeImage(await jpeg(scene(64, 48, true), 64, 48));
  assert.equal(img.width, 64);
  assert.equal(img.height, 48);
  assert.equal(img.format, "jpeg");
  assert.equal(img.data.length, 64 * 48 * 3);
  assert.ok(near(px(img, 32, 40), [240, 120, 20], 12));
});

test("PNG with alpha is composited on white; grayscale becomes RGB; WebP decodes", async () => {
  const rgba = Buffer.alloc(16 * 16 * 4);
  for (let i = 0; i < 16 * 16; i++) rgba.set(i < 128 ? [255, 0, 0, 0] : [0, 0, 255, 255], i * 4); // top half transparent
  const a = await decodeImage(await png(rgba, 16, 16, 4));
  assert.deepEqual(px(a, 3, 2), [255, 255, 255]);
  assert.deepEqual(px(a, 3, 12), [0, 0, 255]);

  const grayRaw = Buffer.alloc(16 * 16, 77);
  const g = await decodeImage(await png(grayRaw, 16, 16, 1));
  assert.equal(g.data.length, 16 * 16 * 3);
  assert.deepEqual(px(g, 5, 5), [77, 77, 77]);

  const webp = await sharp(rawImage(20, 20, solid([10, 200, 30])), { raw: { width: 20, height: 20, channels: 3 } })
    .webp({ lossless: true })
    .toBuffer();
  const w = await decodeImage(webp);
  assert.equal(w.format, "webp");
  assert.deepEqual(px(w, 10, 10), [10, 200, 30]);
});

test("CMYK JPEG is converted to sRGB", async () => {
  const cmyk = await sharp(rawImage(32, 32, solid([240, 120, 20])), { raw: { width: 32, height: 32, channels: 3 } })
    .toColourspace("cmyk")
    .jpeg({ quality: 95 })
    .toBuffer();
  assert.equal((await sharp(cmyk).metadata()).space, "cmyk");
  const img = await decodeImage(cmyk);
  assert.equal(img.data.length, 32 * 32 * 3);
  assert.ok(near(px(img, 16, 16), [240, 120, 20], 30), `got ${px(img, 16, 16)}`);
});

test("EXIF orientation is applied", async () => {
  // 40x20, left half red, right half blue; orientation 6 = rotate 90° clockwise for display.
  const raw = rawImage(40, 20, (x) => (x < 20 ? [255, 0, 0] : [0, 0, 255]));
  const bytes = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } })
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const img = await decodeImage(bytes);
  assert.equal(img.width, 20);
  assert.equal(img.height, 40);
  // After a clockwise turn the left (red) half is on top.
  assert.ok(near(px(img, 10, 5), [255, 0, 0], 40), `top ${px(img, 10, 5)}`);
  assert.ok(near(px(img, 10, 35), [0, 0, 255], 40), `bottom ${px(img, 10, 35)}`);
});

test("very large images are shrunk to maxSide before the exact resize", async () => {
  const img = await decodeImage(await jpeg(rawImage(600, 300, solid([240, 120, 20])), 600, 300), { maxSide: 200 });
  assert.deepEqual([img.width, img.height], [200, 100]);
  assert.ok(near(px(img, 100, 50), [240, 120, 20], 12));
});

test("hostile and broken inputs are rejected with a reason", async () => {
  const good = await jpeg(scene(224, 224, true), 224, 224);
  await rejects(good.subarray(0, Math.floor(good.length * 0.6)), "corrupt", /corrupt or truncated jpeg/);
  await rejects(await png(Buffer.from([1, 2, 3]), 1, 1), "too_small", /1x1; each side must be at least 8 px/);
  await rejects(headerBombPng(20000, 20000), "too_many_pixels", /20000x20000 = 400000000 pixels/);
  await rejects(await jpeg(scene(100, 100, false), 100, 100), "too_many_pixels", /more than the 5000 accepted/, 5000);
  await rejects(new TextEncoder().encode("definitely not an image"), "not_image", /not a decodable image/);
  await rejects(new Uint8Array(0), "not_image", /empty/);
  const svg = new TextEncoder().encode(
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>',
  );
  await rejects(svg, "unsupported", /unsupported image format 'svg'/);
});
