// Full-resolution frames: header parsing (the pixel-budget hook), shrink-on-load decoding straight to the
// preprocessing's size, the letterbox policy that keeps a 16:9 frame's edges, and preprocessing inside the ONNX graph.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { readBundleDir, writeBundle } from "../src/bundle/local.ts";
import { OnnxScorer } from "../src/engine.ts";
import { decodeImage, inspectImage, planDecode } from "../src/image/decode.ts";
import { readImageHeader } from "../src/image/header.ts";
import { geometry, letterboxFill, parsePreprocessing, resizeTarget } from "../src/image/preprocess.ts";
import { resizeRgb } from "../src/image/resample.ts";
import { GraphBuilder } from "../src/onnx/model.ts";
import { graphInput, withPixelInput } from "../src/onnx/pixel-input.ts";
import { buildTinyClassifier } from "../src/onnx/tiny-classifier.ts";
import { ImageInputError } from "../src/scorer.ts";
import { silentLogger } from "../src/session.ts";
import { tinyMember } from "./bundles.ts";
import { headerBombPng, jpeg, png, rawImage } from "./images.ts";

const ORANGE: [number, number, number] = [240, 120, 20];
/** A 1920×1080 street-like frame with a roadwork barrier standing at the right edge only. */
const edgeFrame = () =>
  rawImage(1920, 1080, (x, y) => {
    if (x >= 1800 && y > 420 && y < 900) return ORANGE;
    if (y < 380) return [120, 160, 230];
    return [90, 90, 95];
  });
const DINOV2 = {
  size: { shortest_edge: 256 },
  resample: 3,
  do_center_crop: true,
  crop_size: { height: 224, width: 224 },
};

let root: string;
let frame: Buffer;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "roadwork-frames-"));
  frame = await jpeg(edgeFrame(), 1920, 1080, 75);
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const orangeColumns = (img: { data: Uint8Array; width: number; height: number }) => {
  const cols = new Set<number>();
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) {
      const o = (y * img.width + x) * 3;
      if ((img.data[o] as number) > 200 && (img.data[o + 1] as number) < 160 && (img.data[o + 2] as number) < 80)
        cols.add(x);
    }
  return [...cols].sort((a, b) => a - b);
};

test("the header parser reads sizes and EXIF orientation without decoding; inspectImage enforces the budget", async () => {
  assert.deepEqual(
    { ...readImageHeader(frame) },
    { format: "jpeg", width: 1920, height: 1080, orientation: 1, channels: 3, wide: false, alpha: false },
  );
  const turned = await sharp(
    rawImage(40, 20, () => ORANGE),
    { raw: { width: 40, height: 20, channels: 3 } },
  )
    .jpeg()
    .withMetadata({ orientation: 6 })
    .toBuffer();
  assert.equal(readImageHeader(turned)?.orientation, 6);
  const p = await png(Buffer.alloc(30 * 10 * 4), 30, 10, 4);
  assert.deepEqual([readImageHeader(p)?.width, readImageHeader(p)?.height, readImageHeader(p)?.alpha], [30, 10, true]);
  for (const opts of [{ lossless: true }, { lossless: false }, { lossless: false, alphaQuality: 50 }]) {
    const raw = rawImage(33, 17, () => ORANGE);
    const w = await sharp(raw, { raw: { width: 33, height: 17, channels: 3 } })
      .ensureAlpha()
      .webp(opts)
      .toBuffer();
    const h = readImageHeader(w);
    assert.deepEqual([h?.format, h?.width, h?.height], ["webp", 33, 17], JSON.stringify(opts));
  }
  // The hook answers before any decoder runs: a 20000² PNG header is refused, a frame passes.
  assert.throws(
    () => inspectImage(headerBombPng(20000, 20000)),
    (e: unknown) => e instanceof ImageInputError && e.reason === "too_many_pixels",
  );
  assert.throws(
    () => inspectImage(new TextEncoder().encode("GIF89a....")),
    (e: unknown) => e instanceof ImageInputError && e.reason === "not_image",
  );
  assert.equal(inspectImage(frame, { maxPixels: 1920 * 1080 }).width, 1920);
  assert.equal(readImageHeader(frame.subarray(0, 2)), undefined);
});

test("a large JPEG is decoded straight to the preprocessing's size, close to a full decode + exact resize", async () => {
  const spec = parsePreprocessing(DINOV2);
  const target = resizeTarget(spec, 1920, 1080);
  assert.deepEqual(target, { width: 224, height: 126 }); // letterbox: the whole frame, aspect kept
  const small = await decodeImage(frame, { resizeTo: (w, h) => resizeTarget(spec, w, h) });
  assert.deepEqual([small.width, small.height], [224, 126]);
  const full = await decodeImage(frame);
  assert.deepEqual([full.width, full.height], [1920, 1080]);
  const exact = resizeRgb(full.data, 1920, 1080, 224, 126, 3);
  let sum = 0;
  for (let i = 0; i < exact.length; i++) sum += Math.abs((exact[i] as number) - (small.data[i] as number));
  const mean = sum / exact.length;
  assert.ok(mean < 3, `mean |Δ| ${mean.toFixed(2)} levels against the exact resize of the full decode`);
  // Below twice the target the exact path is kept (the Pillow-fidelity cases are untouched).
  const mid = await jpeg(edgeFrame().subarray(0, 300 * 200 * 3), 300, 200);
  const kept = await decodeImage(mid, { resizeTo: (w, h) => resizeTarget(spec, w, h) });
  assert.deepEqual([kept.width, kept.height], [300, 200]);
});

test("the decode plan (what the pixel budget charges) follows sharp's shrink-on-load choice", () => {
  const h = readImageHeader(frame)!;
  const letterbox = planDecode(h, (w, hh) => resizeTarget(parsePreprocessing(DINOV2), w, hh));
  // 1920/224 = 1080/126 = 8.57: sharp's libjpeg-rounding guard halves 8 (the integer part) to a 1/4 decode
  // (480×270), then the 224×126 output.
  assert.deepEqual(letterbox, { target: { width: 224, height: 126 }, jpegShrink: 4, pixels: 480 * 270 + 224 * 126 });
  // Stretched to 224×224: the smaller factor, 1080/224 = 4.8, rounds down to 4 and sharp's libjpeg guard halves it.
  const stretch = planDecode(h, () => ({ width: 224, height: 224 }));
  assert.deepEqual([stretch.jpegShrink, stretch.pixels], [2, 960 * 540 + 224 * 224]);
  // Below twice the target, rotated JPEGs and other formats: the full size.
  assert.equal(planDecode({ ...h, width: 400, height: 400 }, () => ({ width: 224, height: 224 })).pixels, 160_000);
  assert.equal(planDecode({ ...h, orientation: 6 }, () => ({ width: 224, height: 224 })).pixels, 1920 * 1080);
  assert.equal(planDecode({ ...h, format: "png" }, () => ({ width: 224, height: 224 })).pixels, 1920 * 1080);
  assert.equal(planDecode(h).pixels, 1920 * 1080);
});

test("letterbox keeps an object at the frame's edge that the processor's centre crop cuts off", async () => {
  const letterbox = parsePreprocessing(DINOV2);
  const processor = parsePreprocessing({ ...DINOV2, frame_policy: "processor" });
  for (const resizeTo of [undefined, (w: number, h: number) => resizeTarget(letterbox, w, h)]) {
    const img = await decodeImage(frame, resizeTo ? { resizeTo } : {});
    const kept = geometry(img, letterbox);
    assert.deepEqual([kept.width, kept.height], [224, 224]);
    const cols = orangeColumns(kept);
    assert.ok(cols.length >= 8, `barrier columns after letterbox: ${cols.length}`);
    assert.ok((cols.at(-1) as number) >= 222, `the barrier reaches the right edge (last column ${cols.at(-1)})`);
    // Bars above and below hold the fill (the normalization mean), the frame sits in the middle.
    const fill = letterboxFill(letterbox);
    assert.deepEqual([...kept.data.subarray(0, 3)], fill);
    assert.deepEqual([...kept.data.subarray((223 * 224 + 100) * 3, (223 * 224 + 100) * 3 + 3)], fill);
  }
  const cropped = geometry(await decodeImage(frame), processor);
  assert.equal(orangeColumns(cropped).length, 0, "the centre crop loses the barrier");

  // A square frame takes the processor's steps under both policies (Pillow-exact path unchanged).
  const square = await decodeImage(
    await jpeg(
      rawImage(300, 300, (x) => (x > 280 ? ORANGE : [90, 90, 95])),
      300,
      300,
    ),
  );
  assert.deepEqual(geometry(square, letterbox).data, geometry(square, processor).data);

  // End to end through a real model whose score rises with orange: only the letterbox bundle sees the barrier.
  const scores: Record<string, number> = {};
  for (const policy of ["letterbox", "processor"] as const) {
    const dir = join(root, `policy-${policy}`);
    await writeBundle(
      dir,
      {
        name: "edge",
        version: "1.0.0",
        members: [tinyMember("m", { preprocessing: { ...DINOV2, frame_policy: policy } })],
      },
      { "m.onnx": buildTinyClassifier({ seed: 3 }) },
    );
    const manifest = (await readBundleDir(dir)).manifest;
    assert.equal(manifest.members[0]?.preprocessing.frame_policy, policy, "the policy is recorded in the manifest");
    const scorer = await OnnxScorer.load({ manifest, dir }, { logger: silentLogger, cacheSize: 0 });
    scores[policy] = (await scorer.score(frame)).score;
    await scorer.close();
  }
  assert.ok((scores.letterbox as number) > (scores.processor as number), JSON.stringify(scores));
});

test("preprocessing inside the ONNX graph (uint8 NHWC in) gives the JS path's scores", async () => {
  const dir = join(root, "ingraph");
  await writeBundle(
    dir,
    {
      name: "ingraph",
      version: "1.0.0",
      members: [
        tinyMember("a", { preprocessing: DINOV2 }),
        tinyMember("b", {
          onnx: "b.onnx",
          preprocessing: { ...DINOV2, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] },
        }),
      ],
      tta: ["none", "hflip"],
    },
    { "a.onnx": buildTinyClassifier({ seed: 4 }), "b.onnx": buildTinyClassifier({ seed: 5 }) },
  );
  const bundle = await readBundleDir(dir);
  const images = [
    frame,
    await jpeg(
      rawImage(224, 224, (x, y) => [(x * 3) % 256, (y * 5) % 256, 128]),
      224,
      224,
    ),
    await jpeg(
      rawImage(400, 300, (x) => (x < 60 ? ORANGE : [90, 90, 95])),
      400,
      300,
    ),
  ];
  const run = async (mode: "always" | "never", buckets: "off" | number[]) => {
    const s = await OnnxScorer.load(bundle, {
      logger: silentLogger,
      cacheSize: 0,
      preprocessInGraph: mode,
      batchBuckets: buckets,
    });
    const out = await Promise.all(images.map(async (b) => (await s.score(b)).score)); // one batch of 3
    const single = (await s.score(images[1] as Buffer)).score;
    await s.close();
    return [...out, single];
  };
  const js = await run("never", "off");
  for (const buckets of ["off", [1, 4]] as const) {
    const graph = await run("always", buckets === "off" ? "off" : [...buckets]);
    for (const [i, v] of js.entries()) {
      assert.ok(Math.abs(v - (graph[i] as number)) < 1e-5, `image ${i}: ${v} vs ${graph[i]} (buckets ${buckets})`);
    }
  }

  // A float16-input model gets a final Cast to float16.
  const g = new GraphBuilder("half");
  g.input("pixel_values", "float16", ["N", 3, 4, 4]);
  const [f] = g.node("Cast", ["pixel_values"], 1, { to: 1 });
  g.node("ReduceMean", [f as string], ["mean"], { axes: [1, 2, 3], keepdims: 0 });
  g.output("mean", "float32", ["N"]);
  const wrapped = withPixelInput(g.toModel(), {
    input: "pixel_values",
    newInput: "u8",
    height: 4,
    width: 4,
    scale: [1 / 255, 1 / 255, 1 / 255],
    bias: [0, 0, 0],
    inputType: "float16",
  });
  assert.deepEqual(graphInput(wrapped, "u8"), { type: "uint8", shape: ["N", 4, 4, 3] });
  const session = await ort.InferenceSession.create(wrapped);
  const pixels = new Uint8Array(48).fill(51);
  const r = await session.run({ u8: new ort.Tensor("uint8", pixels, [1, 4, 4, 3]) });
  assert.ok(Math.abs(((r.mean as ort.Tensor).data as Float32Array)[0]! - 0.2) < 1e-3);
  await session.release();
});
