import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emaUpdate, PerformanceTracker, scoreChallenge } from "../src/reward.ts";

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

  it("moves the EMA by alpha 0.05", () => {
    close(emaUpdate(0, 1), 0.05);
    close(emaUpdate(0.5, 0), 0.475);
  });
});
