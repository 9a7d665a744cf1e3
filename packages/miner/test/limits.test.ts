import assert from "node:assert/strict";
import { test } from "node:test";
import { BodyTooLargeError, checkDeclaredLength, readBoundedText } from "../src/body.ts";
import { parseAxonConfig } from "../src/config.ts";
import { HALF_NUDGED, NonFiniteScoreError, toWirePrediction } from "../src/prediction-guard.ts";
import { HotkeyRateLimiter } from "../src/rate-limit.ts";

const stream = (chunks: number[]) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (const n of chunks) c.enqueue(new Uint8Array(n));
      c.close();
    },
  });

test("token bucket: burst, then refill at the configured rate", () => {
  let now = 0;
  const limiter = new HotkeyRateLimiter({ burst: 2, refillPerSecond: 4 }, () => now);
  assert.equal(limiter.take("a").allowed, true);
  assert.equal(limiter.take("a").allowed, true);
  const denied = limiter.take("a");
  assert.equal(denied.allowed, false);
  assert.ok(!denied.allowed && Math.abs(denied.retryAfterS - 0.25) < 1e-9);
  assert.equal(limiter.take("b").allowed, true, "buckets are per hotkey");
  now = 250;
  assert.equal(limiter.take("a").allowed, true);
  assert.equal(limiter.take("a").allowed, false);
});

test("bounded body: exact size passes, one byte over fails, declared length is checked first", async () => {
  assert.equal((await readBoundedText(stream([4, 6]), 10, new AbortController().signal)).length, 10);
  await assert.rejects(readBoundedText(stream([4, 7]), 10, new AbortController().signal), BodyTooLargeError);
  assert.throws(() => checkDeclaredLength("11", 10), BodyTooLargeError);
  assert.doesNotThrow(() => checkDeclaredLength("10", 10));
  assert.doesNotThrow(() => checkDeclaredLength(undefined, 10));
});

test("bounded text: UTF-8 split across chunks decodes whole, and the same cap holds", async () => {
  const bytes = new TextEncoder().encode('{"image":"","name":"é€😀"}');
  const split = (cuts: number[]) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        let from = 0;
        for (const to of [...cuts, bytes.length]) {
          c.enqueue(bytes.subarray(from, to));
          from = to;
        }
        c.close();
      },
    });
  const signal = new AbortController().signal;
  for (let cut = 1; cut < bytes.length; cut++) {
    assert.equal(await readBoundedText(split([cut]), bytes.length, signal), '{"image":"","name":"é€😀"}');
  }
  await assert.rejects(readBoundedText(split([5]), bytes.length - 1, signal), BodyTooLargeError);
  assert.equal(await readBoundedText(null, 10, signal), "");
});

test("bounded body: an abort ends a read that never completes", async () => {
  const ac = new AbortController();
  const never = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
  const read = readBoundedText(never, 10, ac.signal);
  ac.abort(new Error("deadline"));
  await assert.rejects(read, /deadline/);
});

test("wire prediction: finite, in [0,1], never exactly 0.5", () => {
  assert.equal(toWirePrediction(0.5), HALF_NUDGED);
  assert.ok(HALF_NUDGED < 0.5 && Math.round(HALF_NUDGED) === 0);
  assert.equal(toWirePrediction(2), 1);
  assert.equal(toWirePrediction(-3), 0);
  assert.equal(toWirePrediction(0.73), 0.73);
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    assert.throws(() => toWirePrediction(bad), NonFiniteScoreError);
  }
});

test("config: defaults are the documented ones and bad values name the field", () => {
  const c = parseAxonConfig({});
  assert.equal(c.host, "::");
  assert.equal(c.bodyLimitBytes, 8 * 1024 * 1024);
  assert.equal(c.requireValidatorPermit, true);
  assert.ok(c.server.keepAliveTimeoutMs >= 20_000 && c.server.headersTimeoutMs > c.server.keepAliveTimeoutMs);
  assert.throws(() => parseAxonConfig({ port: 70000 }), /port/);
  assert.throws(() => parseAxonConfig({ queue: { maxConcurrent: 0 } }), /queue\.maxConcurrent/);
  assert.throws(
    () => parseAxonConfig({ server: { keepAliveTimeoutMs: 30_000, headersTimeoutMs: 25_000 } }),
    /headersTimeoutMs must exceed keepAliveTimeoutMs/,
  );
});
