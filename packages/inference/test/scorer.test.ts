import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BundleError } from "../src/bundle/manifest.ts";
import { loadScorer } from "../src/load.ts";
import { GraphBuilder } from "../src/onnx/model.ts";
import { writeTinyClassifier } from "../src/onnx/tiny-classifier.ts";
import { ImageInputError } from "../src/scorer.ts";
import { silentLogger } from "../src/session.ts";
import { jpeg, scene } from "./images.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "roadwork-scorer-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("loadScorer on a bare .onnx: calibrated scores, orange scenes higher, cache hits exact", async () => {
  const model = join(dir, "tiny.onnx");
  await writeTinyClassifier(model, { seed: 7 });
  const scorer = await loadScorer({ model, logger: silentLogger, intraOpNumThreads: 1 });
  try {
    assert.match(scorer.modelVersion, /^tiny@0\.0\.0\+[0-9a-f]{12}$/);
    assert.equal(scorer.device, "cpu");
    const cones = await jpeg(scene(224, 224, true), 224, 224);
    const road = await jpeg(scene(320, 240, false), 320, 240);
    const a = await scorer.score(cones);
    const b = await scorer.score(road);
    for (const r of [a, b]) {
      assert.ok(Number.isFinite(r.score) && r.score > 0 && r.score < 1 && r.score !== 0.5);
      assert.equal(r.cached, false);
      assert.equal(r.modelVersion, scorer.modelVersion);
    }
    assert.ok(a.score > 0.5 && b.score < 0.5, `cones ${a.score}, road ${b.score}`);
    const again = await scorer.score(cones);
    assert.deepEqual({ score: again.score, cached: again.cached }, { score: a.score, cached: true });
    await assert.rejects(scorer.score(new Uint8Array([1, 2, 3])), ImageInputError);
  } finally {
    await scorer.close();
  }
  await assert.rejects(scorer.score(new Uint8Array(10)), /closed/);
});

test("load-time validation names the problem", async () => {
  const wrongShape = new GraphBuilder("gray");
  wrongShape.input("x", "float32", ["N", 1, 224, 224]);
  wrongShape.node("ReduceMean", ["x"], ["y"], { axes: [1, 2, 3], keepdims: 0 });
  wrongShape.output("y", "float32", ["N"]);
  await writeFile(join(dir, "gray.onnx"), wrongShape.toModel());
  await assert.rejects(
    loadScorer({ model: join(dir, "gray.onnx") }),
    /input 'x' is \[N,1,224,224\]; expected \[N,3,H,W\]/,
  );

  const nan = new GraphBuilder("nan");
  nan.input("x", "float32", ["N", 3, 224, 224]);
  nan.node("ReduceMean", ["x"], ["m"], { axes: [1, 2, 3], keepdims: 0 });
  nan.node("Sub", ["m", "m"], ["zero"]);
  nan.node("Div", ["zero", "zero"], ["y"]);
  nan.output("y", "float32", ["N"]);
  await writeFile(join(dir, "nan.onnx"), nan.toModel());
  await assert.rejects(
    loadScorer({ model: join(dir, "nan.onnx"), outputKind: "logit", logger: silentLogger }),
    (e: unknown) => {
      assert.ok(e instanceof BundleError);
      assert.match(e.message, /produced NaN on probe image 'gray'/);
      return true;
    },
  );
  await assert.rejects(loadScorer({ model: join(dir, "missing.onnx") }), /model not found/);
});
