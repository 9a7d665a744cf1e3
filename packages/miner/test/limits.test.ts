import assert from "node:assert/strict";
import { test } from "node:test";
import { BodyTooLargeError, checkDeclaredLength, readBoundedBody } from "../src/body.ts";
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

const byteLength = (chunks: Uint8Array[]) => chunks.reduce((n, c) => n + c.byteLength, 0);

test("bounded body: exact size passes, one byte over fails, declared length is checked first", async () => {
  assert.equal(byteLength(await readBoundedBody(stream([4, 6]), 10, new AbortController().signal)), 10);
  await assert.rejects(readBoundedBody(stream([4, 7]), 10, new AbortController().signal), BodyTooLargeError);
  assert.throws(() => checkDeclaredLength("11", 10), BodyTooLargeError);
  assert.doesNotThrow(() => checkDeclaredLength("10", 10));
  assert.doesNotThrow(() => checkDeclaredLength(undefined, 10));
});

test("bounded body: the chunks come back as they arrived, in order", async () => {
  const bytes = new TextEncoder().encode('{"image":"","name":"é€😀"}');
  const signal = new AbortController().signal;
  const chunks = await readBoundedBody(
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const [from, to] of [
          [0, 3],
          [3, 21],
          [21, bytes.length],
        ] as const)
          c.enqueue(bytes.subarray(from, to));
        c.close();
      },
    }),
    bytes.length,
    signal,
  );
  assert.deepEqual(
    chunks.map((c) => c.byteLength),
    [3, 18, bytes.length - 21],
  );
  assert.deepEqual(Buffer.concat(chunks), Buffer.from(bytes));
  assert.deepEqual(await readBoundedBody(null, 10, signal), []);
});

test("bounded body: an abort ends a read that never completes", async () => {
  const ac = new AbortController();
  const never = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
  const read = readBoundedBody(never, 10, ac.signal);
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
