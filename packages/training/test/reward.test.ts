import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emaUpdate, PerformanceTracker, scoreChallenge, sklearnRaises } from "../src/reward.ts";

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

describe("validator reward", () => {
  it("scores a perfect alternating miner 1 and a constant miner at most 0.125", () => {
    const good = new PerformanceTracker();
    let last = 0;
    for (let i = 0; i < 20; i++) last = scoreChallenge(good, i % 2 === 0 ? 0.9 : 0.1, i % 2 === 0 ? 1 : 0);
    close(last, 1);
    const constant = new PerformanceTracker();
    for (let i = 0; i < 20; i++) last = scoreChallenge(constant, 0.9, i % 2);
    // MCC is 0 (one predicted class); accuracy over the last 10 is 0.5 → (0.25)^3.
    close(last, 0.25 ** 3);
  });

  it("needs both labels and both predicted classes in the window for MCC", () => {
    const t = new PerformanceTracker();
    // Only label 1 so far, predictions both ways: MCC counts as 0.
    scoreChallenge(t, 0.9, 1);
    const r = scoreChallenge(t, 0.1, 1);
    // accuracy over the window = 1/2 → (0.5·0 + 0.5·0.5)^3
    close(r, 0.25 ** 3);
    assert.equal(t.metrics().mcc, 0);
  });

  it("rounds 0.5 to 'no roadwork' (banker's rounding)", () => {
    const t = new PerformanceTracker();
    scoreChallenge(t, 0.5, 1);
    assert.equal(t.metrics().accuracy, 0);
    const u = new PerformanceTracker();
    scoreChallenge(u, 0.5, 0);
    assert.equal(u.metrics().accuracy, 1);
  });

  it("gives 0 for -1 and out-of-range predictions and drops -1 from the windows", () => {
    const t = new PerformanceTracker();
    scoreChallenge(t, 0.9, 1);
    scoreChallenge(t, 0.1, 0);
    assert.equal(scoreChallenge(t, -1, 1), 0);
    assert.equal(t.metrics().count, 2);
    assert.equal(t.metrics().accuracy, 1);
    assert.equal(scoreChallenge(t, 1.2, 1), 0);
    assert.equal(scoreChallenge(t, Number.NaN, 1), 0);
  });

  it("keeps 100 entries, accuracy over the last 10, and resets on a new hotkey", () => {
    const t = new PerformanceTracker();
    for (let i = 0; i < 150; i++) t.update(i % 2 === 0 ? 0.9 : 0.1, i % 2 === 0 ? 1 : 0, "a");
    assert.equal(t.size, 100);
    for (let i = 0; i < 10; i++) t.update(0.9, 0, "a");
    assert.equal(t.metrics(10).accuracy, 0);
    assert.equal(t.metrics(100).accuracy, 0.9);
    t.update(0.9, 1, "b");
    assert.equal(t.size, 1);
  });

  it("zeroes every window that holds a NaN until it leaves (sklearn raises, the validator returns empty metrics)", () => {
    const t = new PerformanceTracker();
    const perfect = (i: number) => scoreChallenge(t, i % 2 === 0 ? 0.9 : 0.1, i % 2 === 0 ? 1 : 0);
    for (let i = 0; i < 20; i++) perfect(i);
    close(perfect(20), 1);
    assert.equal(scoreChallenge(t, Number.NaN, 1), 0);
    assert.equal(t.metrics(100).invalid, true);
    // Perfect answers earn nothing while the NaN is among the last 10 …
    for (let i = 0; i < 9; i++) assert.equal(perfect(i), 0, `step ${i} after the NaN`);
    // … then only accuracy@10 counts until it leaves the last 100: (0.5·0 + 0.5·1)³.
    for (let i = 9; i < 99; i++) close(perfect(i), 0.125);
    close(perfect(99), 1);
    assert.equal(t.metrics(100).invalid, undefined);
  });

  it("treats ±Infinity like NaN", () => {
    for (const bad of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const t = new PerformanceTracker();
      scoreChallenge(t, 0.9, 1);
      scoreChallenge(t, 0.1, 0);
      assert.equal(scoreChallenge(t, bad, 1), 0);
      assert.deepEqual(t.metrics(10), { accuracy: 0, mcc: 0, count: 3, invalid: true });
      assert.equal(scoreChallenge(t, 0.9, 1), 0);
    }
  });

  it("zeroes windows with a prediction that rounds to a third class: ≥ 1.5 → 2, below −0.5 → −1", () => {
    for (const bad of [1.5, 2, 7, -0.7, -1.5, -3]) {
      const t = new PerformanceTracker();
      for (let i = 0; i < 10; i++) scoreChallenge(t, i % 2 === 0 ? 0.9 : 0.1, i % 2 === 0 ? 1 : 0);
      assert.equal(scoreChallenge(t, bad, 1), 0, `prediction ${bad}`);
      assert.equal(t.metrics(100).invalid, true, `prediction ${bad}`);
      assert.equal(scoreChallenge(t, 0.9, 1), 0, `the answer after ${bad}`);
    }
  });

  it("keeps windows valid for out-of-range values that round to 0 or 1 (only that answer's penalty applies)", () => {
    for (const edge of [1.49, 1.2, -0.5, -0.2]) {
      const t = new PerformanceTracker();
      for (let i = 0; i < 10; i++) scoreChallenge(t, i % 2 === 0 ? 0.9 : 0.1, i % 2 === 0 ? 1 : 0);
      assert.equal(scoreChallenge(t, edge, 1), 0, `prediction ${edge} is penalized`);
      assert.equal(t.metrics(100).invalid, undefined, `prediction ${edge}`);
      // The next valid answer scores again from the (valid) windows: 9/10 or 10/10 right, MCC > 0.
      assert.ok(scoreChallenge(t, 0.9, 1) > 0.2, `the answer after ${edge}`);
    }
    // −1 is "no answer": dropped from the windows, never a third class.
    const t = new PerformanceTracker();
    scoreChallenge(t, 0.9, 1);
    assert.equal(scoreChallenge(t, -1, 0), 0);
    assert.equal(t.metrics().invalid, undefined);
  });

  it("follows sklearn's binary checks on the label/prediction union", () => {
    // labels ∪ predictions = {1, 2}: binary with pos_label 1 present, no error; the 2 is simply wrong.
    assert.equal(sklearnRaises([0.9, 2.2], [1, 2], [1, 1]), false);
    const t = new PerformanceTracker();
    scoreChallenge(t, 0.9, 1);
    scoreChallenge(t, 2.2, 1);
    assert.deepEqual(t.metrics(), { accuracy: 0.5, mcc: 0, count: 2 });
    // {0, 2}: pos_label=1 is not a valid label → raises.
    assert.equal(sklearnRaises([0.1, 2.2], [0, 2], [0, 0]), true);
    // {0, 1, 2} → multiclass with average="binary" → raises.
    assert.equal(sklearnRaises([0.1, 2.2], [0, 2], [0, 1]), true);
    // −0 from rounding −0.5 is class 0.
    assert.equal(sklearnRaises([-0.5, 0.9], [-0, 1], [0, 1]), false);
  });

  it("moves the EMA by alpha 0.05", () => {
    close(emaUpdate(0, 1), 0.05);
    close(emaUpdate(0.5, 0), 0.475);
  });
});
