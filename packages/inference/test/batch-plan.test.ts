import assert from "node:assert/strict";
import { test } from "node:test";
import { normalizeBuckets, planRuns } from "../src/batch-plan.ts";

test("planRuns: no buckets, one run of exactly n rows", () => {
  assert.deepEqual(planRuns(5, undefined, undefined), [{ start: 0, count: 5, rows: 5 }]);
  assert.deepEqual(planRuns(0, undefined, [1, 8]), []);
});

test("planRuns: buckets pad up to the smallest bucket that holds the rows, chunks beyond the largest", () => {
  const b = [1, 8];
  assert.deepEqual(planRuns(1, undefined, b), [{ start: 0, count: 1, rows: 1 }]);
  assert.deepEqual(planRuns(3, undefined, b), [{ start: 0, count: 3, rows: 8 }]);
  assert.deepEqual(planRuns(8, undefined, b), [{ start: 0, count: 8, rows: 8 }]);
  assert.deepEqual(planRuns(17, undefined, b), [
    { start: 0, count: 8, rows: 8 },
    { start: 8, count: 8, rows: 8 },
    { start: 16, count: 1, rows: 1 },
  ]);
  assert.deepEqual(planRuns(6, undefined, [2, 4, 16]), [{ start: 0, count: 6, rows: 16 }]);
  // Every row is covered exactly once, and only bucket sizes are ever run.
  for (let n = 1; n <= 40; n++) {
    const runs = planRuns(n, undefined, [2, 6]);
    assert.equal(
      runs.reduce((s, r) => s + r.count, 0),
      n,
    );
    for (const r of runs) assert.ok([2, 6].includes(r.rows) && r.count <= r.rows);
  }
});

test("planRuns: a fixed model batch wins over buckets", () => {
  assert.deepEqual(planRuns(5, 2, [1, 8]), [
    { start: 0, count: 2, rows: 2 },
    { start: 2, count: 2, rows: 2 },
    { start: 4, count: 1, rows: 2 },
  ]);
});

test("normalizeBuckets: sorted and distinct; junk refused", () => {
  assert.deepEqual(normalizeBuckets([8, 1, 8]), [1, 8]);
  assert.throws(() => normalizeBuckets([]), /empty/);
  assert.throws(() => normalizeBuckets([0, 4]), /positive integers/);
  assert.throws(() => normalizeBuckets([1.5]), /positive integers/);
  assert.throws(() => planRuns(-1, undefined, undefined), /non-negative/);
});
