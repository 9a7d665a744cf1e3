import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "@roadwork/data";
import * as ort from "onnxruntime-node";
import { exportHeadOnnx } from "../src/export.ts";
import { cosineWithWarmup, type Matrix, predictHead, restandardize, trainHead } from "../src/head.ts";

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

  const accuracyOf = (probs: Float32Array, y: readonly number[]) =>
    probs.reduce((ok, p, i) => ok + ((p > 0.5 ? 1 : 0) === y[i] ? 1 : 0), 0) / y.length;
  const joined = (a: { x: Matrix; y: number[] }, b: { x: Matrix; y: number[] }) => ({
    x: { rows: a.x.rows + b.x.rows, cols: a.x.cols, data: Float32Array.from([...a.x.data, ...b.x.data]) },
    y: [...a.y, ...b.y],
  });

  it("re-expresses a head in another standardization without changing what it computes", () => {
    const head = trainHead(blobs(200, "a"), blobs(80, "va"), { kind: "mlp", hidden: 8, epochs: 10 }).weights;
    const other = blobs(50, "b");
    const mean = Float32Array.from({ length: 6 }, (_, c) => 10 * c + 0.3);
    const std = Float32Array.from({ length: 6 }, (_, c) => 0.5 + c);
    const moved = restandardize(head, mean, std);
    assert.deepEqual(moved.mean, mean);
    const [p, q] = [predictHead(head, other.x), predictHead(moved, other.x)];
    for (let i = 0; i < p.length; i++) assert.ok(Math.abs(p[i]! - q[i]!) < 1e-5, `row ${i}: ${p[i]} vs ${q[i]}`);
  });

  it("a retrain warm-started from the champion's head matches a full cold run in a fraction of the epochs", () => {
    const config = { kind: "mlp" as const, hidden: 8, epochs: 120, patience: 15, learningRate: 0.01 };
    const first = blobs(300, "first");
    const champion = trainHead(first, blobs(120, "val-1"), config).weights;
    // The retrain: the same images plus 10 % new ones, a grown validation set.
    const train = joined(first, blobs(30, "added"));
    const val = joined(blobs(120, "val-1"), blobs(12, "val-added"));
    const test = blobs(400, "test");
    const cold = trainHead(train, val, config);
    const warm = trainHead(train, val, config, { warmStart: { weights: champion, epochs: 20, patience: 8 } });
    assert.equal(warm.warmStart?.used, true);
    assert.ok(warm.history.length <= 20, `${warm.history.length} epochs`);
    assert.ok(warm.history.length < cold.history.length, `${warm.history.length} vs ${cold.history.length} epochs`);
    const best = (r: typeof cold) => (r.bestEpoch < 0 ? r.warmStart!.valLoss : r.history[r.bestEpoch]!.valLoss);
    assert.ok(best(warm) <= best(cold) + 0.02, `validation loss ${best(warm)} vs ${best(cold)}`);
    const [a, b] = [
      accuracyOf(predictHead(warm.weights, test.x), test.y),
      accuracyOf(predictHead(cold.weights, test.x), test.y),
    ];
    assert.ok(a >= b - 0.02, `test accuracy ${a} vs ${b}`);
  });

  it("starts cold, with the full schedule, from a head that is worse than a coin flip or of another shape", () => {
    const config = { kind: "mlp" as const, hidden: 8, epochs: 40, patience: 40, learningRate: 0.01 };
    const train = blobs(300, "first");
    const val = blobs(120, "val-1");
    const good = trainHead(train, val, config).weights;
    // The same head with its output negated: confidently wrong on every image.
    const flipped = { ...good, w2: good.w2.map((v) => -v), b2: good.b2.map((v) => -v) };
    const fromFlipped = trainHead(train, val, config, { warmStart: { weights: flipped, epochs: 5 } });
    assert.equal(fromFlipped.warmStart?.used, false);
    assert.match(fromFlipped.warmStart?.reason ?? "", /coin flip/);
    assert.equal(fromFlipped.history.length, 40);
    const narrower = trainHead(train, val, { ...config, hidden: 4, epochs: 3 }).weights;
    const fromNarrower = trainHead(train, val, config, { warmStart: { weights: narrower, epochs: 5 } });
    assert.deepEqual(fromNarrower.warmStart, { used: false, valLoss: Number.NaN, reason: "different shape" });
    assert.equal(fromNarrower.history.length, 40);
  });
});
