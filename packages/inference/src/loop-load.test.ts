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

/**
 * Closes the current window, then measures one made of `work` and 100 ms of idle time: the idle time is what the
 * blocked time is weighed against (without it, a few milliseconds of other work on a loaded machine would be "all").
 */
async function windowOf(work: () => void | Promise<void>): Promise<number> {
  await sleep(150);
  loopUtilizationOutsideModel(); // starts a fresh window
  await work();
  await sleep(100);
  return loopUtilizationOutsideModel();
}

test("a loop blocked by the model is not busy; the same block of other work is", async () => {
  // 1 s blocked, then 100 ms idle: other work is ≥ 0.9 of the window however slowly the timers fire (≥ 0.75 up to
  // 330 ms idle); the model's block leaves only what else ran, far under half of the idle time.
  const model = await windowOf(() => hold(1000, true));
  assert.ok(model < 0.5, `model time is left out (utilization ${model.toFixed(2)})`);
  const other = await windowOf(() => hold(1000, false));
  assert.ok(other > 0.75, `other work counts (utilization ${other.toFixed(2)})`);
});

test("model time beside other work leaves the other work's share", async () => {
  // 300 ms of model, then 1 s of other work and 100 ms idle: the other work is ~0.9 of what is left.
  const mixed = await windowOf(() => {
    hold(300, true);
    hold(1000, false);
  });
  assert.ok(mixed > 0.75, `utilization ${mixed.toFixed(2)}`);
});
