import assert from "node:assert/strict";
import { test } from "node:test";
import { BodyTooLargeError, checkDeclaredLength, parseBody, readBoundedBody } from "../src/body.ts";
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

/** Runs `work`, counting the event loop's turns (setImmediate callbacks) until it settles. */
async function loopTurnsDuring<T>(work: () => Promise<T>): Promise<{ turns: number; result: T }> {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    const result = await work(); // before `turns` is read: the count is the one at the end
    return { turns, result };
  } finally {
    running = false;
  }
}

test("bounded body: a large body already buffered is read slice by slice, the event loop let through between", async () => {
  const signal = new AbortController().signal;
  const turnsDuring = async (chunks: number[], sliceBytes?: number) => {
    // Every chunk is queued before the read starts: without the pauses it completes in microtasks alone.
    const { turns, result: body } = await loopTurnsDuring(() =>
      readBoundedBody(stream(chunks), 64 * 65_536, signal, sliceBytes),
    );
    assert.equal(
      byteLength(body),
      chunks.reduce((a, b) => a + b, 0),
    );
    return turns;
  };
  // 32 chunks of 64 KiB (2 MiB, what libuv hands over in one wake-up) in 128 KiB slices: a pause every 2 chunks.
  assert.ok((await turnsDuring(Array(32).fill(65_536), 128 * 1024)) >= 15);
  // A validator's 224×224 body (tens of KiB) is read without a pause.
  assert.equal(await turnsDuring([16_384, 16_384]), 0);
});

test("parsed body: a large image's base64 is decoded slice by slice, the event loop let through between", async () => {
  const image = Buffer.alloc(1536 * 1024);
  for (let i = 0; i < image.length; i++) image[i] = (i * 2654435761) >>> 24;
  const text = Buffer.from(JSON.stringify({ name: "ImageSynapse", timeout: 9, image: image.toString("base64") }));
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < text.length; at += 65_536) chunks.push(text.subarray(at, at + 65_536));
  const { turns, result: body } = await loopTurnsDuring(() => parseBody(chunks, "application/json"));
  assert.deepEqual(Buffer.from(body.imageBytes ?? []), image);
  // 2 MiB of base64 in 128 KiB slices: 15 pauses (protocol's default 512 KiB slices would make 3).
  assert.ok(turns >= 12, `${turns} turns`);
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
