import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  accuracy,
  bankersRound,
  binaryMetrics,
  confusion,
  f1,
  matthews,
  precision,
  recall,
  rocAuc,
  searchThreshold,
} from "../src/metrics.ts";

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

describe("metrics", () => {
  it("rounds halves to even like numpy", () => {
    assert.equal(bankersRound(0.5), 0);
    assert.equal(bankersRound(1.5), 2);
    assert.equal(bankersRound(2.5), 2);
    assert.equal(bankersRound(0.5000001), 1);
    assert.equal(bankersRound(0.4999999), 0);
    assert.equal(bankersRound(-1.5), -2);
    assert.equal(bankersRound(1), 1);
  });

  it("computes the confusion-derived metrics by hand", () => {
    // labels 1 1 1 1 0 0 0 0 0 0, predictions 1 1 1 0 1 0 0 0 0 0 → tp 3, fn 1, fp 1, tn 5
    const labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
    const preds = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0];
    const c = confusion(preds, labels);
    assert.deepEqual(c, { tp: 3, fp: 1, tn: 5, fn: 1 });
    close(accuracy(preds, labels), 0.8);
    close(precision(c), 0.75);
    close(recall(c), 0.75);
    close(f1(c), 0.75);
    // (3·5 − 1·1) / √(4·4·6·6) = 14 / 24
    close(matthews(preds, labels), 14 / 24);
  });

  it("maps degenerate MCC cases to 0 and perfect/inverse to ±1", () => {
    assert.equal(matthews([1, 1, 1, 1], [1, 0, 1, 0]), 0); // constant prediction
    assert.equal(matthews([1, 0, 1, 0], [1, 1, 1, 1]), 0); // one label only
    assert.equal(matthews([], []), 0);
    close(matthews([1, 0, 1, 0], [1, 0, 1, 0]), 1);
    close(matthews([0, 1, 0, 1], [1, 0, 1, 0]), -1);
  });

  it("computes ROC-AUC with ties as the rank statistic", () => {
    close(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
    close(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
    close(rocAuc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]), 1);
    assert.ok(Number.isNaN(rocAuc([0.2, 0.3], [1, 1])));
  });

  it("finds the MCC-maximizing threshold between scores", () => {
    const scores = [0.05, 0.1, 0.2, 0.25, 0.3, 0.9];
    const labels = [0, 0, 0, 1, 1, 1];
    const t = searchThreshold(scores, labels);
    close(t.threshold, 0.225);
    close(t.mcc, 1);
    const m = binaryMetrics(scores, labels, t.threshold);
    assert.equal(m.accuracy, 1);
    // At 0.5 the same scores are much worse: the threshold is what the calibration maps to 0.5.
    assert.ok(binaryMetrics(scores, labels, 0.5).mcc < 0.6);
  });
});
