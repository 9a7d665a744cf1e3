import assert from "node:assert/strict";
import { test } from "node:test";
import { type Calibration, calibrate, finalizeScore, logit, SCORE_MAX, SCORE_MIN } from "../src/calibration.ts";

const calibrations: Calibration[] = [
  { kind: "none" },
  { kind: "threshold-shift", threshold: 0.37 },
  { kind: "threshold-shift", threshold: 0.5 },
  { kind: "platt", a: 1.7, b: -0.4 },
  { kind: "platt", a: 0.6, b: 0.2, threshold: 0.62 },
];

test("calibration is monotone, stays in [1e-6, 1-1e-6] and never returns 0.5", () => {
  const zs = [-1e6, -50, -20];
  for (let z = -12; z <= 12; z += 0.01) zs.push(z);
  zs.push(20, 50, 1e6, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0);
  zs.sort((a, b) => a - b);
  for (const c of calibrations) {
    let previous = Number.NEGATIVE_INFINITY;
    for (const z of zs) {
      const p = calibrate(z, c);
      assert.ok(Number.isFinite(p) && p >= SCORE_MIN && p <= SCORE_MAX, `${c.kind} z=${z} → ${p}`);
      assert.notEqual(p, 0.5, `${JSON.stringify(c)} z=${z}`);
      assert.ok(p >= previous, `not monotone at z=${z} for ${JSON.stringify(c)}`);
      previous = p;
    }
  }
});

test("threshold-shift maps the decision threshold to the 0.5 boundary, on the 'no roadwork' side", () => {
  const c: Calibration = { kind: "threshold-shift", threshold: 0.37 };
  assert.ok(Math.abs(calibrate(logit(0.37), c) - 0.5) <= 1e-6);
  assert.ok(calibrate(logit(0.37), c) < 0.5);
  assert.ok(calibrate(logit(0.371), c) > 0.5);
  assert.ok(calibrate(logit(0.369), c) < 0.5);
  // Banker's rounding turns an exact 0.5 into "no roadwork"; the engine makes that explicit.
  assert.equal(finalizeScore(0.5), 0.5 - 1e-6);
  assert.equal(finalizeScore(2), SCORE_MAX);
  assert.equal(finalizeScore(-1), SCORE_MIN);
  assert.throws(() => calibrate(Number.NaN, { kind: "none" }), /NaN/);
  assert.throws(() => finalizeScore(Number.NaN), /not finite/);
});
