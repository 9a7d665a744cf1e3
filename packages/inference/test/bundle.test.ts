import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readBundleDir, writeBundle } from "../src/bundle/local.ts";
import { BundleError, parseManifest } from "../src/bundle/manifest.ts";
import { calibrate, sigmoid } from "../src/calibration.ts";
import { OnnxScorer } from "../src/engine.ts";
import { decodeImage } from "../src/image/decode.ts";
import { hflip, parsePreprocessing, preprocess, resizeTarget } from "../src/image/preprocess.ts";
import { loadScorer } from "../src/load.ts";
import { GraphBuilder } from "../src/onnx/model.ts";
import { buildTinyClassifier, tinyClassifierReference } from "../src/onnx/tiny-classifier.ts";
import { silentLogger } from "../src/session.ts";
import { tinyMember, writeTinyBundle } from "./bundles.ts";
import { jpeg, rawImage } from "./images.ts";

let root: string;
let n = 0;
const fresh = () => join(root, `b${n++}`);
before(async () => {
  root = await mkdtemp(join(tmpdir(), "roadwork-bundle-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const rejectsWith = (p: Promise<unknown>, re: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof BundleError, `expected BundleError, got ${e}`);
    assert.match(e.message, re);
    return true;
  });

test("writeBundle fills checksums and readBundleDir verifies them; damage is named precisely", async () => {
  const dir = fresh();
  const manifest = await writeTinyBundle(dir, { version: "2.3.0" });
  assert.match(manifest.members[0]?.sha256 ?? "", /^[0-9a-f]{64}$/);
  assert.equal((await readBundleDir(dir)).manifest.version, "2.3.0");

  await writeFile(join(dir, "m0.onnx"), buildTinyClassifier({ seed: 99 }));
  await rejectsWith(readBundleDir(dir), /bad checksum for m0\.onnx: manifest says [0-9a-f]{64}, file is [0-9a-f]{64}/);
  await unlink(join(dir, "m0.onnx"));
  await rejectsWith(readBundleDir(dir), /missing file m0\.onnx/);
  await rejectsWith(readBundleDir(join(root, "nowhere")), /no manifest\.json/);
});

test("manifest schema errors are specific", () => {
  const base = {
    name: "tiny",
    version: "1.0.0",
    created: "2026-11-22T00:00:00Z",
    members: [{ ...tinyMember("a"), sha256: "0".repeat(64) }],
  };
  assert.throws(() => parseManifest({ ...base, version: "v1" }), /version must be semver/);
  assert.throws(
    () => parseManifest({ ...base, members: [{ ...base.members[0], output: { name: "p", kind: "tanh" } }] }),
    /unknown output kind "tanh": use "sigmoid", "logit" or "softmax"/,
  );
  assert.throws(
    () => parseManifest({ ...base, members: [{ ...base.members[0], onnx: "../../etc/passwd" }] }),
    /relative path inside the bundle/,
  );
  assert.throws(
    () => parseManifest({ ...base, members: [base.members[0], base.members[0]] }),
    /duplicate member id 'a'/,
  );
  assert.throws(() => parseManifest("{"), /not valid JSON/);
  assert.throws(
    () => parseManifest({ ...base, calibration: { kind: "threshold-shift", threshold: 1.5 } }),
    /calibration/,
  );
});

test("input shapes, names and output kinds are checked against the ONNX model at load", async () => {
  const shape = fresh();
  await writeBundle(
    shape,
    {
      name: "tiny",
      version: "1.0.0",
      members: [
        tinyMember("m", {
          input: { name: "pixel_values", shape: ["N", 3, 256, 256] },
          preprocessing: { size: { height: 256, width: 256 } },
        }),
      ],
    },
    { "m.onnx": buildTinyClassifier({ seed: 1 }) },
  );
  await rejectsWith(
    loadScorer({ model: shape, logger: silentLogger }),
    /input is \[N,3,224,224\] but the manifest declares \[N,3,256,256\]/,
  );

  const name = fresh();
  await writeBundle(
    name,
    { name: "tiny", version: "1.0.0", members: [tinyMember("m", { output: { name: "score", kind: "sigmoid" } })] },
    { "m.onnx": buildTinyClassifier() },
  );
  await rejectsWith(
    loadScorer({ model: name, logger: silentLogger }),
    /no output 'score' \(its outputs: probability\)/,
  );

  const crop = fresh();
  await writeBundle(
    crop,
    {
      name: "tiny",
      version: "1.0.0",
      members: [tinyMember("m", { preprocessing: { size: { shortest_edge: 256 } } })],
    },
    { "m.onnx": buildTinyClassifier() },
  );
  await rejectsWith(loadScorer({ model: crop, logger: silentLogger }), /preprocessing must produce a fixed size/);

  const logits = fresh();
  await writeBundle(
    logits,
    { name: "tiny", version: "1.0.0", members: [tinyMember("m", { output: { name: "logits", kind: "sigmoid" } })] },
    { "m.onnx": buildTinyClassifier({ output: "logit" }) },
  );
  await rejectsWith(
    loadScorer({ model: logits, logger: silentLogger }),
    /declared "sigmoid" but produced .*declare kind "logit"/,
  );
});

test("ensemble + hflip TTA + threshold calibration equal the JS reference", async () => {
  // An asymmetric scene so the mirrored view differs.
  const raw = rawImage(300, 200, (x, y) =>
    x < 120 && y > 80 ? [240, 120, 20] : y < 70 ? [120, 160, 230] : [90, 90, 95],
  );
  const bytes = await jpeg(raw, 300, 200);
  const rgb = await decodeImage(bytes);
  const t = preprocess(rgb, parsePreprocessing({ size: { height: 224, width: 224 }, resample: 2 }));
  const views = [t, hflip(t)];
  const z1 = views.map((v) => tinyClassifierReference(v.data, 224, 1));
  const z2 = views.map((v) => tinyClassifierReference(v.data, 224, 2));
  assert.notEqual(z1[0], z1[1]);
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  for (const combine of ["mean-logit", "mean-probability"] as const) {
    const dir = fresh();
    await writeTinyBundle(dir, {
      seeds: [1, 2],
      weights: [1, 3],
      draft: { tta: ["none", "hflip"], combine, calibration: { kind: "threshold-shift", threshold: 0.3 } },
    });
    const scorer = await loadScorer({ model: dir, logger: silentLogger, cacheSize: 0 });
    const got = (await scorer.score(bytes)).score;
    await scorer.close();
    const z =
      combine === "mean-logit"
        ? (mean(z1) + 3 * mean(z2)) / 4
        : Math.log(
            (mean(z1.map(sigmoid)) + 3 * mean(z2.map(sigmoid))) /
              4 /
              (1 - (mean(z1.map(sigmoid)) + 3 * mean(z2.map(sigmoid))) / 4),
          );
    const expected = calibrate(z, { kind: "threshold-shift", threshold: 0.3 });
    assert.ok(Math.abs(got - expected) < 1e-4, `${combine}: ${got} vs ${expected}`);
  }
});

/** A DINO-like bundle: a patchifying backbone with a mean "CLS" token ([N,17,4]) and a linear head on it. */
async function writeDinoTiny(): Promise<{ dir: string; d: number }> {
  // Backbone: patchify 32x32 into 16 tokens of D=4, prepend a mean token as "CLS" → [N,17,4].
  const d = 4;
  const backbone = new GraphBuilder("backbone");
  backbone.input("pixel_values", "float32", ["N", 3, 32, 32]);
  backbone.initializer(
    "patch.w",
    Float32Array.from({ length: d * 3 * 64 }, (_, i) => ((i * 7) % 11) / 100 - 0.05),
    [d, 3, 8, 8],
  );
  backbone.initializer("shape", BigInt64Array.of(0n, BigInt(d), -1n), [3]);
  backbone.node("Conv", ["pixel_values", "patch.w"], ["patches"], { kernel_shape: [8, 8], strides: [8, 8] });
  backbone.node("Reshape", ["patches", "shape"], ["flat"]);
  backbone.node("Transpose", ["flat"], ["tokens"], { perm: [0, 2, 1] });
  backbone.node("ReduceMean", ["tokens"], ["cls"], { axes: [1], keepdims: 1 });
  backbone.node("Concat", ["cls", "tokens"], ["last_hidden_state"], { axis: 1 });
  backbone.output("last_hidden_state", "float32", ["N", 17, d]);
  const head = new GraphBuilder("head");
  head.input("embedding", "float32", ["N", d]);
  head.initializer("w", Float32Array.of(1.5, -2, 0.5, 1), [d, 1]);
  head.initializer("b", Float32Array.of(0.1), [1]);
  head.node("Gemm", ["embedding", "w", "b"], ["logits"]);
  head.output("logits", "float32", ["N", 1]);

  const dir = fresh();
  await writeBundle(
    dir,
    {
      name: "dino-tiny",
      version: "0.1.0",
      members: [
        {
          id: "backbone",
          onnx: "backbone.onnx",
          input: { name: "pixel_values", shape: ["N", 3, 32, 32] },
          preprocessing: {
            size: { shortest_edge: 40 },
            resample: 3,
            do_center_crop: true,
            crop_size: { height: 32, width: 32 },
          },
          output: { name: "logits", kind: "logit" },
          head: { onnx: "head.onnx", input: "embedding", embedding: { output: "last_hidden_state", token: "cls" } },
        },
      ],
    },
    { "backbone.onnx": backbone.toModel(), "head.onnx": head.toModel() },
  );
  return { dir, d };
}

test(
  "a head session runs on the calling thread: only the backbone's session adds pool threads",
  {
    skip: process.platform !== "linux" && "threads are counted in /proc/self/task",
  },
  async () => {
    const { dir } = await writeDinoTiny();
    const threads = () => readdirSync("/proc/self/task").length;
    // Once first, so libuv's and the image decoder's lazily started threads exist before counting.
    await (await loadScorer({ model: dir, logger: silentLogger, intraOpNumThreads: 3 })).close();
    const added = async (headIntraOpNumThreads?: number) => {
      const before = threads();
      const scorer = await loadScorer({
        model: dir,
        logger: silentLogger,
        intraOpNumThreads: 3,
        headIntraOpNumThreads,
      });
      const grown = threads() - before;
      await scorer.close();
      return grown;
    };
    const byDefault = await added();
    const headWithThree = await added(3);
    // A pool of n intra-op threads is n - 1 threads beside the caller: the backbone's 2, and the head's 2 only on request.
    assert.equal(headWithThree - byDefault, 2, `default ${byDefault}, head with 3 threads ${headWithThree}`);
    assert.equal(byDefault, 2, `default ${byDefault}`);
  },
);

test("backbone + head members: CLS token of last_hidden_state feeds the head", async () => {
  const { dir, d } = await writeDinoTiny();
  const scorer = await loadScorer({ model: dir, logger: silentLogger });
  const bytes = await jpeg(
    rawImage(64, 48, (x, y) => [x * 4, y * 5, 128]),
    64,
    48,
  );
  const got = (await scorer.score(bytes)).score;
  await scorer.close();

  // Reference: the same computation by hand on the preprocessed tensor.
  // The engine decodes a frame twice the preprocessing's size or more straight to that size (shrink-on-load).
  const spec = scorer.manifest.members[0]?.preprocessing ?? parsePreprocessing({});
  const t = preprocess(await decodeImage(bytes, { resizeTo: (w, h) => resizeTarget(spec, w, h) }), spec);
  assert.deepEqual([t.height, t.width], [32, 32]);
  const w = Float32Array.from({ length: d * 3 * 64 }, (_, i) => ((i * 7) % 11) / 100 - 0.05);
  const cls = new Array(d).fill(0);
  for (let o = 0; o < d; o++)
    for (let py = 0; py < 4; py++)
      for (let px = 0; px < 4; px++) {
        let acc = 0;
        for (let c = 0; c < 3; c++)
          for (let ky = 0; ky < 8; ky++)
            for (let kx = 0; kx < 8; kx++)
              acc +=
                (t.data[c * 1024 + (py * 8 + ky) * 32 + px * 8 + kx] as number) *
                (w[((o * 3 + c) * 8 + ky) * 8 + kx] as number);
        cls[o] += acc / 16;
      }
  const z = 0.1 + 1.5 * cls[0] - 2 * cls[1] + 0.5 * cls[2] + cls[3];
  assert.ok(Math.abs(got - calibrate(z, { kind: "none" })) < 1e-5, `${got} vs ${calibrate(z, { kind: "none" })}`);
});

test("NaN from a bundle member fails the load with the probe image named", async () => {
  const g = new GraphBuilder("nan");
  g.input("pixel_values", "float32", ["N", 3, 224, 224]);
  g.initializer("zero", Float32Array.of(0), [1]);
  g.node("ReduceMean", ["pixel_values"], ["m"], { axes: [1, 2, 3], keepdims: 0 });
  g.node("Mul", ["m", "zero"], ["z"]);
  g.node("Div", ["z", "z"], ["nan"]);
  g.node("Unsqueeze", ["nan", "axes"], ["logits"]);
  g.initializer("axes", BigInt64Array.of(1n), [1]);
  g.output("logits", "float32", ["N", 1]);
  const dir = fresh();
  await writeBundle(
    dir,
    { name: "nan", version: "1.0.0", members: [tinyMember("m", { output: { name: "logits", kind: "logit" } })] },
    { "m.onnx": g.toModel() },
  );
  await rejectsWith(
    OnnxScorer.load(await readBundleDir(dir), { logger: silentLogger }),
    /nan@1\.0\.0: the model produced NaN on probe image 'gray'/,
  );
});

test("softmax outputs read the roadwork column as a logit; logit outputs honour index", async () => {
  // logits2 = [-m, m] where m is the mean of the normalized pixels: softmax column 1 has logit 2m.
  const g = new GraphBuilder("two-class");
  g.input("pixel_values", "float32", ["N", 3, 224, 224]);
  g.initializer("signs", Float32Array.of(-1, 1), [1, 2]);
  g.node("ReduceMean", ["pixel_values"], ["m"], { axes: [1, 2, 3], keepdims: 0 });
  g.initializer("axes", BigInt64Array.of(1n), [1]);
  g.node("Unsqueeze", ["m", "axes"], ["m1"]);
  g.node("Mul", ["m1", "signs"], ["logits2"]);
  g.output("logits2", "float32", ["N", 2]);
  const bytes = await jpeg(
    rawImage(224, 224, (x) => (x < 150 ? [250, 200, 150] : [30, 30, 30])),
    224,
    224,
  );
  const t = preprocess(await decodeImage(bytes), parsePreprocessing({}));
  const m = t.data.reduce((s, v) => s + v, 0) / t.data.length;
  for (const [kind, expected] of [
    ["softmax", 2 * m],
    ["logit", m],
  ] as const) {
    const dir = fresh();
    await writeBundle(
      dir,
      { name: "two", version: "1.0.0", members: [tinyMember("m", { output: { name: "logits2", kind, index: 1 } })] },
      { "m.onnx": g.toModel() },
    );
    const scorer = await loadScorer({ model: dir, logger: silentLogger });
    const got = (await scorer.score(bytes)).score;
    await scorer.close();
    // float32 reduction over 150k values in onnxruntime vs a float64 sum here
    assert.ok(Math.abs(got - sigmoid(expected)) < 1e-4, `${kind}: ${got} vs ${sigmoid(expected)}`);
  }
  assert.throws(
    () =>
      parseManifest({
        name: "x",
        version: "1.0.0",
        created: "2026-11-22T00:00:00Z",
        members: [{ ...tinyMember("a", { output: { name: "p", kind: "softmax" } }), sha256: "0".repeat(64) }],
      }),
    /softmax outputs need the roadwork class index/,
  );
});
