import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { loopUtilizationOutsideModel, recordModelTime } from "./loop-load.ts";

/** Blocks the loop for `ms` (what a synchronous onnxruntime run does), optionally reporting it as model time. */
function hold(ms: number, asModel: boolean): void {
  const started = performance.now();
  while (performance.now() - started < ms) {
    // busy
  }
  if (asModel) recordModelTime(performance.now() - started);
}

/** Closes the current window, then measures one made of `work`. */
async function windowOf(work: () => void | Promise<void>): Promise<number> {
  await sleep(150);
  loopUtilizationOutsideModel(); // starts a fresh window
  await work();
  await sleep(1); // the loop turns, so the blocked time is accounted before sampling
  return loopUtilizationOutsideModel();
}

test("a loop blocked by the model is not busy; the same block of other work is", async () => {
  const model = await windowOf(() => hold(400, true));
  assert.ok(model < 0.5, `model time is left out (utilization ${model.toFixed(2)})`);
  const other = await windowOf(() => hold(400, false));
  assert.ok(other > 0.75, `other work counts (utilization ${other.toFixed(2)})`);
});

test("model time beside other work leaves the other work's share", async () => {
  // 300 ms of model, then 300 ms of other work, in one window with no idle time: the other work is all of the rest.
  const mixed = await windowOf(() => {
    hold(300, true);
    hold(300, false);
  });
  assert.ok(mixed > 0.75, `utilization ${mixed.toFixed(2)}`);
});
