// How busy this thread's event loop is with work other than the model. onnxruntime-node runs a session
// synchronously on the calling thread (the event loop, on CPU and CUDA alike), so the loop's raw utilization counts
// inference too: on a CPU host serving one request at a time the model alone keeps it ~85 % busy, and a rule that
// reads that as "the loop is the bottleneck" (the JPEG decoder choice) moves work onto threads that compete with the
// model for the same cores. The model's time is reported here and taken out of both sides of the ratio.

/** The loop's utilization is resampled at most this often, in milliseconds. */
const WINDOW_MS = 100;

let modelMs = 0;
let lastModelMs = 0;
let lastElu = performance.eventLoopUtilization();
let lastSample = performance.now();
let utilization = 0;

/** Adds the wall time of one model run made from this thread (called by the sessions' callers). */
export function recordModelTime(ms: number): void {
  if (ms > 0) modelMs += ms;
}

/**
 * This thread's event loop utilization over the last completed window, leaving out the time spent in the model:
 * (active − model) / (active + idle − model); 0 until one window has passed.
 */
export function loopUtilizationOutsideModel(): number {
  const now = performance.now();
  if (now - lastSample >= WINDOW_MS) {
    const elu = performance.eventLoopUtilization();
    const d = performance.eventLoopUtilization(elu, lastElu);
    const model = Math.min(modelMs - lastModelMs, d.active);
    const rest = d.active + d.idle - model;
    utilization = rest > 0 ? (d.active - model) / rest : 0;
    lastElu = elu;
    lastModelMs = modelMs;
    lastSample = now;
  }
  return utilization;
}
