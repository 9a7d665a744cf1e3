// The fast resize and normalization against the straightforward Pillow port they replaced (kept below as the
// reference): the same bytes and the same float32 values for every filter, up and down, odd sizes, crop windows, and
// for geometry() under each processor's spec.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RgbImage } from "./decode.ts";
import { centerCrop, geometry, parsePreprocessing, shortestEdgeSize, writeNormalized } from "./preprocess.ts";
import { FILTERS, type Filter, ONE, precompute, resizeRgb } from "./resample.ts";

function noise(width: number, height: number, seed: number): Uint8Array {
  const px = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < px.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    // Mostly smooth with hard edges, so both the positive and the negative filter lobes and clipping are exercised.
    px[i] = (i / 3) % width < width / 2 ? s >>> 24 : ((i * 7) & 255) | ((s >>> 30) * 64);
  }
  return px;
}

const same = (a: Uint8Array, b: Uint8Array, what: string) =>
  assert.equal(Buffer.compare(Buffer.from(a), Buffer.from(b)), 0, `${what}: bytes differ`);

test("resizeRgb gives the reference port's bytes for every filter, up and down, odd sizes", () => {
  const sizes = [
    [224, 224, 256, 256],
    [224, 224, 224, 224],
    [223, 225, 256, 290],
    [640, 480, 224, 168],
    [97, 31, 13, 50],
    [5, 300, 300, 5],
    [256, 256, 256, 100],
    [100, 256, 40, 256],
  ] as const;
  for (const [w, h, ow, oh] of sizes) {
    const src = noise(w, h, w * 31 + h);
    for (let resample = 1; resample <= 5; resample++) {
      same(
        resizeRgb(src, w, h, ow, oh, resample),
        referenceResize(src, w, h, ow, oh, resample),
        `${w}x${h}->${ow}x${oh} r${resample}`,
      );
    }
  }
});

test("a resize window is the same bytes as cropping the full resize", () => {
  const src = noise(224, 200, 7);
  for (const [ow, oh] of [
    [256, 292],
    [150, 90],
    [224, 200],
  ] as const) {
    const full = referenceResize(src, 224, 200, ow, oh, 3);
    const crop = (l: number, t: number, cw: number, ch: number) =>
      centerCropAt({ data: full, width: ow, height: oh, format: "raw" }, l, t, cw, ch);
    for (const [l, t, cw, ch] of [
      [0, 0, ow, oh],
      [Math.floor((ow - 64) / 2), Math.floor((oh - 48) / 2), 64, 48],
      [ow - 1, oh - 1, 1, 1],
      [0, 3, 5, oh - 3],
    ] as const) {
      same(
        resizeRgb(src, 224, 200, ow, oh, 3, { left: l, top: t, width: cw, height: ch }),
        crop(l, t, cw, ch),
        `${ow}x${oh} window ${l},${t} ${cw}x${ch}`,
      );
    }
  }
  assert.throws(() => resizeRgb(src, 224, 200, 10, 10, 3, { left: 5, top: 0, width: 6, height: 1 }), /not inside/);
});

function centerCropAt(img: RgbImage, left: number, top: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    out.set(img.data.subarray(((top + y) * img.width + left) * 3, ((top + y) * img.width + left + w) * 3), y * w * 3);
  }
  return out;
}

test("geometry (resize with the crop folded in) gives the bytes of resize-then-crop for DINOv2, ConvNext, ViT", () => {
  const specs = {
    dinov2: { size: { shortest_edge: 256 }, resample: 3, do_center_crop: true, crop_size: { height: 224, width: 224 } },
    convnext: { size: { shortest_edge: 224 }, crop_pct: 0.875, resample: 2 },
    vit: { size: { height: 224, width: 224 }, resample: 2 },
    cropBiggerThanResize: { size: { height: 100, width: 100 }, do_center_crop: true, crop_size: 120 },
  };
  for (const [name, input] of Object.entries(specs)) {
    const spec = parsePreprocessing({ ...input, frame_policy: "processor" });
    for (const [w, h] of [
      [224, 224],
      [320, 240],
      [181, 377],
    ] as const) {
      const img: RgbImage = { data: noise(w, h, w + h), width: w, height: h, format: "raw" };
      const g = geometry(img, spec);
      // The reference: the processor's steps one after the other with the reference resize.
      let ref = img;
      const rs = (r: RgbImage, ow: number, oh: number): RgbImage =>
        ow === r.width && oh === r.height
          ? r
          : {
              data: referenceResize(r.data, r.width, r.height, ow, oh, spec.resample),
              width: ow,
              height: oh,
              format: r.format,
            };
      const size = spec.size;
      if ("shortest_edge" in size && spec.crop_pct !== undefined) {
        const t = shortestEdgeSize(w, h, Math.trunc(size.shortest_edge / spec.crop_pct));
        ref = centerCrop(rs(ref, t.width, t.height), size.shortest_edge, size.shortest_edge);
      } else if ("shortest_edge" in size) {
        const t = shortestEdgeSize(w, h, size.shortest_edge);
        ref = rs(ref, t.width, t.height);
      } else {
        ref = rs(ref, size.width, size.height);
      }
      if (spec.do_center_crop && spec.crop_size !== undefined) {
        const c =
          typeof spec.crop_size === "number" ? { width: spec.crop_size, height: spec.crop_size } : spec.crop_size;
        ref = centerCrop(ref, c.width, c.height);
      }
      assert.deepEqual([g.width, g.height], [ref.width, ref.height], `${name} ${w}x${h}`);
      same(g.data, ref.data, `${name} ${w}x${h}`);
    }
  }
});

test("writeNormalized's table gives the per-pixel float32 values, flipped or not, with and without normalize", () => {
  const img: RgbImage = { data: noise(37, 19, 3), width: 37, height: 19, format: "raw" };
  img.data.set([0, 1, 2, 127, 128, 129, 253, 254, 255]); // every corner of the level range
  for (const input of [
    {},
    { image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] },
    { do_normalize: false },
    { do_rescale: false },
  ]) {
    const spec = parsePreprocessing(input);
    for (const flip of [false, true]) {
      const out = new Float32Array(5 + 37 * 19 * 3);
      writeNormalized(img, spec, out, 5, flip);
      // The reference: numpy's float32 steps per pixel, as the loop did before the table.
      const f = Math.fround;
      const scale = spec.do_rescale ? spec.rescale_factor : 1;
      const want = new Float32Array(out.length);
      for (let c = 0; c < 3; c++) {
        const mean = spec.do_normalize ? f(spec.image_mean[c] as number) : 0;
        const std = spec.do_normalize ? f(spec.image_std[c] as number) : 1;
        for (let y = 0; y < 19; y++) {
          for (let x = 0; x < 37; x++) {
            const sx = flip ? 36 - x : x;
            const v = f((img.data[(y * 37 + sx) * 3 + c] as number) * scale);
            want[5 + c * 37 * 19 + y * 37 + x] = f((v - mean) / std);
          }
        }
      }
      assert.deepEqual(out, want, `${JSON.stringify(input)} flip ${flip}`);
    }
  }
});

// The reference: packages/inference/src/image/resample.ts as first ported from Pillow's Resample.c (one generic
// pass per axis over every row, division-based clip8, coefficients recomputed per call), over the same filters and
// the same coefficients (precompute), so what it checks is the resampling passes.
const clip8 = (v: number): number => {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE);
};

/** One separable pass over interleaved RGB; `horizontal` picks the axis. */
function pass(
  src: Uint8Array,
  width: number,
  height: number,
  outSize: number,
  filter: Filter,
  horizontal: boolean,
): Uint8Array {
  const { ksize, bounds, kk } = precompute(horizontal ? width : height, outSize, filter);
  const outW = horizontal ? outSize : width;
  const outH = horizontal ? height : outSize;
  const out = new Uint8Array(outW * outH * 3);
  const half = ONE / 2;
  // Stride (in bytes) between neighbouring taps along the resampled axis.
  const step = horizontal ? 3 : width * 3;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const i = horizontal ? x : y;
      const first = bounds[i * 2] as number;
      const n = bounds[i * 2 + 1] as number;
      let p = horizontal ? (y * width + first) * 3 : (first * width + x) * 3;
      let s0 = half;
      let s1 = half;
      let s2 = half;
      for (let t = 0; t < n; t++) {
        const k = kk[i * ksize + t] as number;
        s0 += (src[p] as number) * k;
        s1 += (src[p + 1] as number) * k;
        s2 += (src[p + 2] as number) * k;
        p += step;
      }
      const o = (y * outW + x) * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return out;
}

/** Resizes interleaved 8-bit RGB (HWC) like PIL `Image.resize((outW, outH), resample)`. */
function referenceResize(
  src: Uint8Array,
  width: number,
  height: number,
  outW: number,
  outH: number,
  resample: number,
): Uint8Array {
  const filter = FILTERS[resample];
  if (!filter) {
    throw new RangeError(`resample ${resample} is not supported (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)`);
  }
  let current = src;
  if (outW !== width) current = pass(current, width, height, outW, filter, true);
  if (outH !== height) current = pass(current, outW, height, outH, filter, false);
  return current === src ? src.slice() : current;
}
