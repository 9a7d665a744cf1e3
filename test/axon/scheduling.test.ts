// Concurrency, deadlines, the stake-ordered queue and rate limits, over real HTTP with the real ONNX scorer
// (wrapped to be deliberately slow or blocking where a test needs time to pass).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { Scorer } from "@roadwork/inference";
import { type PredictionRecord, toWirePrediction } from "@roadwork/miner";
import {
  dendriteFor,
  devKeys,
  metagraphOf,
  neuron,
  type Pair,
  rawPost,
  realScorer,
  sceneJpeg,
  sleep,
  startTestAxon,
} from "./harness.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Name and niceness of each of this process's threads (the main thread first), from /proc/self/task. */
function threadNices(): { name: string; nice: number }[] {
  return readdirSync("/proc/self/task")
    .sort((a, b) => Number(a) - Number(b))
    .map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return { name: readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim(), nice: Number(fields[16]) };
    });
}

/** The real scorer, except that images in `slow` wait for `hold` (ignoring the abort signal: the worst case). */
function holdingScorer(real: Scorer, slow: Set<string>, hold: () => Promise<void>): Scorer {
  return {
    get modelVersion() {
      return real.modelVersion;
    },
    async score(image, options) {
      if (slow.has(sha(image))) await hold();
      return real.score(image, options);
    },
    close: () => Promise.resolve(),
  };
}

describe("axon scheduling over HTTP", () => {
  let keys: Awaited<ReturnType<typeof devKeys>>;
  let scorer: Scorer;
  let cleanup: () => Promise<void>;
  let validators: Pair[];
  let images: Uint8Array[];

  before(async () => {
    keys = await devKeys();
    ({ scorer, cleanup } = await realScorer());
    validators = [keys.alice, keys.charlie, keys.dave, keys.validator(1), keys.validator(2)];
    images = await Promise.all(Array.from({ length: 10 }, (_, i) => sceneJpeg(100 + i)));
  });
  after(async () => cleanup());

  const metagraph = () =>
    metagraphOf([
      ...validators.map((v, i) => neuron(i, v, 100 * (i + 1), true)),
      neuron(10, keys.bob, 1, false),
      neuron(11, keys.eve, 2_000, true),
    ]);

  test("100 concurrent requests from 5 validators all get 200 with the scorer's own predictions", async () => {
    const records: PredictionRecord[] = [];
    const axon = await startTestAxon({
      scorer,
      hotkey: keys.bob.address,
      metagraph: metagraph(),
      // Budgets in minutes, not seconds: this test asserts that every request is answered correctly, not how fast (a
      // loaded CI machine once took 9 s for request 68). Speed is the benchmarks' job.
      config: {
        queue: { maxConcurrent: 4, maxQueued: 200 },
        rateLimit: { burst: 40, refillPerSecond: 1 },
        maxTimeoutS: 120,
        // Five validators share one loopback address here, 100 requests at once, all before any authenticated.
        admission: { maxConnectionsPerAddress: 128, maxPreAuthPerAddress: 128 },
      },
      onPrediction: (r) => {
        records.push(r);
      },
    });
    try {
      const expected = await Promise.all(images.map(async (img) => toWirePrediction((await scorer.score(img)).score)));
      const target = { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address };
      // Each request from its own dendrite (uuid), as a validator's concurrent queries are: nonces only have to
      // increase per hotkey:uuid, and concurrent requests from one uuid may arrive out of order (401, like Python).
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          const d = dendriteFor(validators[i % validators.length]!);
          return d.call({ axon: target, image: images[i % images.length]!, timeout: 120 }).then((r) => ({ r, i }));
        }),
      );
      for (const { r, i } of results) {
        assert.equal(r.status, 200, `request ${i}: ${r.statusMessage}`);
        assert.ok(Math.abs(r.prediction - expected[i % images.length]!) < 1e-6, `request ${i}: ${r.prediction}`);
      }
      await sleep(50); // records are dispatched after the responses
      assert.equal(records.length, 100);
      const hashes = new Set(images.map(sha));
      for (const rec of records) {
        assert.ok(hashes.has(rec.imageSha256));
        assert.ok(validators.some((v) => v.address === rec.callerHotkey));
        assert.equal(rec.modelVersion, scorer.modelVersion);
        assert.ok(rec.latencyMs > 0);
      }
      assert.equal(axon.axon.metrics.count(200), 100);
    } finally {
      await axon.close();
    }
  });

  test("deadline: a scorer slower than the 1 s timeout gets 408 in time while other requests succeed", async () => {
    const slowImage = await sceneJpeg(999);
    const axon = await startTestAxon({
      scorer: holdingScorer(scorer, new Set([sha(slowImage)]), () => sleep(6_000)),
      hotkey: keys.bob.address,
      metagraph: metagraph(),
      config: { queue: { maxConcurrent: 4, maxQueued: 64 }, maxTimeoutS: 120 },
    });
    try {
      const target = { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address };
      const slowReq = dendriteFor(keys.alice).buildRequest({ axon: target, image: slowImage, timeout: 1 });
      const started = performance.now();
      const slow = rawPost(axon.port, { headers: slowReq.headers, body: slowReq.body }).then((r) => ({
        r,
        ms: performance.now() - started,
      }));
      const others = Array.from({ length: 12 }, (_, i) =>
        dendriteFor(validators[1 + (i % 4)]!).call({ axon: target, image: images[i % images.length]!, timeout: 60 }),
      );
      const { r, ms } = await slow;
      assert.equal(r.status, 408, r.body);
      assert.equal((r.json() as { message: string }).message, "Response timeout after: 1.0s");
      assert.equal(r.headers.bt_header_axon_status_code, "408");
      // Not before the deadline, and well before the scorer's 6 s (a loaded machine may be late, never early).
      assert.ok(ms >= 950 && ms < 5_500, `408 after ${ms.toFixed(0)} ms`);
      for (const o of await Promise.all(others)) assert.equal(o.status, 200, o.statusMessage ?? "");
    } finally {
      await axon.close();
    }
  });

  test("queue full: 503 Service busy, and a caller with more stake displaces the lowest waiter", async () => {
    const blocker = await sceneJpeg(555);
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const axon = await startTestAxon({
      scorer: holdingScorer(scorer, new Set([sha(blocker)]), () => released),
      hotkey: keys.bob.address,
      metagraph: metagraph(),
      config: { queue: { maxConcurrent: 1, maxQueued: 1 }, maxTimeoutS: 120 },
    });
    const gate = axon.axon.gate;
    const until = async (cond: () => boolean) => {
      for (let i = 0; i < 200 && !cond(); i++) await sleep(5);
      assert.ok(cond());
    };
    try {
      const target = { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address };
      const call = (who: Pair, image: Uint8Array) => dendriteFor(who).call({ axon: target, image, timeout: 60 });
      // Stakes: alice 100, charlie 200, dave 300, eve 2000.
      const running = call(keys.charlie, blocker);
      await until(() => gate.active === 1);
      const queuedLow = call(keys.alice, images[0]!);
      await until(() => gate.depth === 1);
      const rejected = await call(keys.alice, images[1]!); // same stake as the waiter: no room
      assert.equal(rejected.status, 503);
      assert.match(rejected.statusMessage ?? "", /^Service busy/);
      const queuedHigh = call(keys.eve, images[2]!); // eve holds more stake: alice's waiter is displaced
      const displaced = await queuedLow;
      assert.equal(displaced.status, 503);
      assert.equal(gate.depth, 1);
      release();
      assert.equal((await running).status, 200);
      assert.equal((await queuedHigh).status, 200);
    } finally {
      release();
      await axon.close();
    }
  });

  test("large images take their own lane: a second waits for the first, holding no scoring slot; small ones pass", async () => {
    const [largeA, largeB] = await Promise.all([
      sceneJpeg(701, 1024, { quality: 95 }),
      sceneJpeg(702, 1024, { quality: 95 }),
    ]);
    const largeImageBytes = Math.min(largeA!.byteLength, largeB!.byteLength);
    assert.ok(
      images.every((img) => img.byteLength < largeImageBytes),
      "the challenge images are small",
    );
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const axon = await startTestAxon({
      scorer: holdingScorer(scorer, new Set([sha(largeA!), sha(largeB!)]), () => released),
      hotkey: keys.bob.address,
      metagraph: metagraph(),
      config: { queue: { maxConcurrent: 4, maxQueued: 64, largeImageBytes, maxConcurrentLarge: 1 }, maxTimeoutS: 120 },
    });
    const { gate, largeLane } = axon.axon;
    const until = async (cond: () => boolean, what: string) => {
      for (let i = 0; i < 2_000 && !cond(); i++) await sleep(5);
      assert.ok(cond(), what);
    };
    try {
      const target = { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address };
      const call = (who: Pair, image: Uint8Array) => dendriteFor(who).call({ axon: target, image, timeout: 120 });
      const first = call(keys.alice, largeA!);
      await until(() => largeLane.active === 1 && gate.active === 1, "the first large image is being scored");
      const second = call(keys.charlie, largeB!);
      await until(() => largeLane.depth === 1, "the second large image waits in its lane");
      assert.equal(gate.active, 1, "the waiting large image holds no scoring slot");
      const small = await Promise.all(images.slice(0, 3).map((img, i) => call(validators[2 + i]!, img)));
      for (const r of small) assert.equal(r.status, 200, r.statusMessage ?? "");
      assert.equal(largeLane.depth, 1, "small images never wait in the large lane");
      release();
      assert.equal((await first).status, 200);
      assert.equal((await second).status, 200);
      if (process.platform === "linux") {
        // The large images were decoded by libvips, whose worker threads now run at queue.largeDecodeNice (19).
        const workers = threadNices().filter((t) => t.name === "libvips worker");
        assert.ok(workers.length > 0, "libvips started its workers");
        assert.deepEqual(
          workers.map((t) => t.nice),
          workers.map(() => 19),
        );
        assert.equal(threadNices()[0]?.nice, 0, "the event loop keeps its priority");
      }
    } finally {
      release();
      await axon.close();
    }
  });

  test("rate limit: a validator over its burst gets 429 with Retry-After; others are unaffected", async () => {
    const axon = await startTestAxon({
      scorer,
      hotkey: keys.bob.address,
      metagraph: metagraph(),
      config: { rateLimit: { burst: 3, refillPerSecond: 0.01 } },
    });
    try {
      const target = { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address };
      const alice = dendriteFor(keys.alice);
      for (let i = 0; i < 3; i++) assert.equal((await alice.call({ axon: target, image: images[i]! })).status, 200);
      const req = alice.buildRequest({ axon: target, image: images[3]! });
      const limited = await rawPost(axon.port, { headers: req.headers, body: req.body });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers["retry-after"]) >= 1);
      assert.match((limited.json() as { message: string }).message, /^Too Many Requests: hotkey 5Grwva/);
      assert.equal((await dendriteFor(keys.charlie).call({ axon: target, image: images[3]! })).status, 200);
    } finally {
      await axon.close();
    }
  });

  test("graceful close lets an in-flight request finish", async () => {
    const slowImage = await sceneJpeg(777);
    const axon = await startTestAxon({
      scorer: holdingScorer(scorer, new Set([sha(slowImage)]), () => sleep(300)),
      hotkey: keys.bob.address,
      metagraph: metagraph(),
      config: { maxTimeoutS: 120 },
    });
    const target = { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address };
    const inFlight = dendriteFor(keys.alice).call({ axon: target, image: slowImage, timeout: 60 });
    await sleep(100);
    const closed = axon.running.close(5_000);
    const r = await inFlight;
    assert.equal(r.status, 200, r.statusMessage ?? "");
    await closed;
  });
});
