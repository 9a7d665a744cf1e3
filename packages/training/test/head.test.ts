import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "@roadwork/data";
import * as ort from "onnxruntime-node";
import { exportHeadOnnx } from "../src/export.ts";
import { cosineWithWarmup, type Matrix, predictHead, trainHead } from "../src/head.ts";

function blobs(n: number, seed: string): { x: Matrix; y: number[] } {
  const rng = new Prng(seed);
  const D = 6;
  const data = new Float32Array(n * D);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 3 === 0 ? 1 : 0; // imbalanced 1:2
    y.push(label);
    for (let d = 0; d < D; d++) data[i * D + d] = rng.gaussian() + (label === 1 && d < 2 ? 3 : 0) + 10 * d;
  }
  return { x: { rows: n, cols: D, data }, y };
}

describe("head training", () => {
  it("warms up linearly then decays with a cosine", () => {
    const cfg = { learningRate: 1, warmupEpochs: 3, epochs: 13 };
    assert.equal(cosineWithWarmup(0, cfg), 0.25);
    assert.equal(cosineWithWarmup(2, cfg), 0.75);
    assert.equal(cosineWithWarmup(3, cfg), 1);
    assert.ok(Math.abs(cosineWithWarmup(8, cfg) - 0.5) < 1e-12);
    assert.ok(cosineWithWarmup(13, cfg) < 1e-12);
  });

  for (const kind of ["logistic", "mlp"] as const) {
    it(`${kind}: learns separable data and its ONNX export matches the TypeScript forward pass`, async () => {
      const train = blobs(300, "train");
      const val = blobs(120, "val");
      const result = trainHead(train, val, { kind, hidden: 8, epochs: 60, patience: 10, learningRate: 0.01 });
      const probs = predictHead(result.weights, val.x);
      let ok = 0;
      probs.forEach((p, i) => {
        if ((p > 0.5 ? 1 : 0) === val.y[i]) ok++;
      });
      assert.ok(ok / val.y.length > 0.9, `accuracy ${ok / val.y.length}`);
      assert.ok(result.history.length >= 1 && result.bestEpoch >= 0);
      const session = await ort.InferenceSession.create(exportHeadOnnx(result.weights));
      const out = await session.run({ embedding: new ort.Tensor("float32", val.x.data, [val.x.rows, val.x.cols]) });
      const onnx = out.score!.data as Float32Array;
      assert.deepEqual(out.score!.dims, [val.x.rows, 1]);
      for (let i = 0; i < probs.length; i++)
        assert.ok(Math.abs(onnx[i]! - probs[i]!) < 1e-4, `row ${i}: ${onnx[i]} vs ${probs[i]}`);
      await session.release();
    });
  }

  it("stops early when validation loss stops improving and keeps the best epoch", () => {
    const train = blobs(60, "small");
    const noise = blobs(60, "other");
    noise.y.reverse(); // labels unrelated to features: validation loss cannot improve for long
    const result = trainHead(train, noise, { kind: "mlp", hidden: 16, epochs: 200, patience: 5 });
    assert.ok(result.stoppedEarly);
    assert.ok(result.history.length < 200);
    assert.equal(result.history.length, result.bestEpoch + 6);
  });
});
