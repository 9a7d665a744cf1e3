import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { writeBundle } from "../src/bundle/local.ts";
import { ModelHost, pollModelSource, reloadOnSighup, watchModelSource } from "../src/host.ts";
import { loadScorer } from "../src/load.ts";
import { buildTinyClassifier } from "../src/onnx/tiny-classifier.ts";
import type { ScoreResult } from "../src/scorer.ts";
import { silentLogger } from "../src/session.ts";
import { tinyMember, writeTinyBundle } from "./bundles.ts";
import { jpeg, rawImage } from "./images.ts";

let root: string;
let images: Buffer[];
const v1 = () => join(root, "v1");
const v2 = () => join(root, "v2");
before(async () => {
  root = await mkdtemp(join(tmpdir(), "roadwork-host-"));
  await writeTinyBundle(v1(), { seeds: [1], version: "1.0.0" });
  await writeTinyBundle(v2(), { seeds: [2], version: "2.0.0" });
  images = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      jpeg(
        rawImage(224, 224, (x) => (x < i * 40 ? [240, 120, 20] : [90, 90, 95])),
        224,
        224,
      ),
    ),
  );
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function expectedScores(dir: string): Promise<number[]> {
  const s = await loadScorer({ model: dir, logger: silentLogger, cacheSize: 0 });
  const out = [];
  for (const img of images) out.push((await s.score(img)).score);
  await s.close();
  return out;
}

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
};

test("hot swap under concurrent load: no request lost, each answer from exactly one whole model", async () => {
  const expected = { "tiny@1.0.0": await expectedScores(v1()), "tiny@2.0.0": await expectedScores(v2()) };
  const host = await ModelHost.open(v1(), { logger: silentLogger, cacheSize: 0, maxWaitMs: 1 });
  assert.equal(host.activeVersion, "tiny@1.0.0");

  // A bundle whose file does not match its checksum, and one whose model emits NaN.
  const broken = join(root, "broken");
  await writeTinyBundle(broken, { version: "3.0.0" });
  await writeFile(join(broken, "m0.onnx"), buildTinyClassifier({ seed: 9 }));

  let stop = false;
  const results: { i: number; r: ScoreResult }[] = [];
  const failures: unknown[] = [];
  const workers = Array.from({ length: 6 }, async (_, w) => {
    for (let k = 0; !stop; k++) {
      const i = (w + k) % images.length;
      try {
        results.push({ i, r: await host.score(images[i] as Buffer) });
      } catch (error) {
        failures.push(error);
      }
    }
  });
  await until(() => results.length > 20);
  const swap = await host.reload(v2());
  assert.equal(swap.ok && swap.swapped, true, JSON.stringify(swap));
  const afterSwap = results.length;
  const bad = await host.reload(broken);
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? "" : bad.reason, /bad checksum for m0\.onnx/);
  assert.equal(host.activeVersion, "tiny@2.0.0");
  const same = await host.reload(v2());
  assert.deepEqual([same.ok, same.ok && same.swapped], [true, false]);
  await until(() => results.length > afterSwap + 20);
  stop = true;
  await Promise.all(workers);

  assert.deepEqual(failures, []);
  const versions = new Set<string>();
  for (const { i, r } of results) {
    versions.add(r.modelVersion);
    const want = expected[r.modelVersion as keyof typeof expected]?.[i];
    assert.ok(want !== undefined, `unexpected version ${r.modelVersion}`);
    assert.ok(Math.abs(r.score - want) < 1e-6, `${r.modelVersion} image ${i}: ${r.score} vs ${want}`);
  }
  assert.deepEqual([...versions].sort(), ["tiny@1.0.0", "tiny@2.0.0"]);
  // Once reload() resolved, every new call is served by the new model.
  assert.equal((await host.score(images[0] as Buffer)).modelVersion, "tiny@2.0.0");
  const stats = host.stats;
  assert.deepEqual([stats.loads, stats.loadFailures, stats.activeVersion], [2, 1, "tiny@2.0.0"]);
  await host.close();
});

test("a pointer file is watched, SIGHUP re-reads it, and a bad target keeps the old model", async () => {
  const pointer = join(root, "current.json");
  await writeFile(pointer, JSON.stringify({ bundle: "./v1" }));
  const host = await ModelHost.open(pointer, { logger: silentLogger });
  assert.equal(host.activeVersion, "tiny@1.0.0");
  const watcher = watchModelSource(host, pointer, { debounceMs: 20 });
  try {
    await writeFile(pointer, JSON.stringify({ bundle: "./v2", version: "2.0.0" }));
    await until(() => host.activeVersion === "tiny@2.0.0");
  } finally {
    watcher.close();
  }

  // SIGHUP: the composition root wires it once; the pointer now names a bundle with the wrong input shape.
  const wrong = join(root, "wrong");
  await writeBundle(
    wrong,
    {
      name: "tiny",
      version: "4.0.0",
      members: [
        tinyMember("m", {
          input: { name: "pixel_values", shape: ["N", 3, 256, 256] },
          preprocessing: { size: { height: 256, width: 256 } },
        }),
      ],
    },
    { "m.onnx": buildTinyClassifier() },
  );
  await writeFile(pointer, JSON.stringify({ bundle: "./wrong" }));
  const results: unknown[] = [];
  const off = reloadOnSighup(host, (r) => results.push(r));
  try {
    process.kill(process.pid, "SIGHUP");
    await until(() => results.length === 1);
  } finally {
    off();
  }
  assert.match(JSON.stringify(results[0]), /"ok":false.*manifest declares \[N,3,256,256\]/);
  assert.equal(host.activeVersion, "tiny@2.0.0");
  assert.match(host.stats.lastError ?? "", /current\.json \(tiny@4\.0\.0\): member 'm'/);

  // Polling (for s3:// pointers, which cannot be watched) picks up the next promotion.
  await writeFile(pointer, JSON.stringify({ bundle: "./v1" }));
  const poll = pollModelSource(host, 30);
  try {
    await until(() => host.activeVersion === "tiny@1.0.0");
  } finally {
    poll.close();
  }
  await host.close();
});

test("the model watcher survives its bundle directory being deleted and re-created", async () => {
  const live = join(root, "live");
  await writeTinyBundle(live, { seeds: [1], version: "5.0.0" });
  const host = await ModelHost.open(live, { logger: silentLogger, cacheSize: 0 });
  // A long re-check period: the parent-directory watch must notice the new directory by itself.
  const watcher = watchModelSource(host, join(live, "manifest.json"), { debounceMs: 20, recheckMs: 60_000 });
  try {
    await rm(live, { recursive: true, force: true });
    await writeTinyBundle(live, { seeds: [2], version: "5.1.0" });
    await until(() => host.activeVersion === "tiny@5.1.0", 20_000);
    // The new directory is watched: a manifest rewrite swaps again, with no SIGHUP.
    await writeTinyBundle(live, { seeds: [3], version: "5.2.0" });
    await until(() => host.activeVersion === "tiny@5.2.0", 20_000);
    // Deleted and re-created twice in a row, then rewritten: still followed.
    await rm(live, { recursive: true, force: true });
    await writeTinyBundle(live, { seeds: [1], version: "5.3.0" });
    await until(() => host.activeVersion === "tiny@5.3.0", 20_000);
    await writeTinyBundle(live, { seeds: [2], version: "5.4.0" });
    await until(() => host.activeVersion === "tiny@5.4.0", 20_000);
  } finally {
    watcher.close();
    await host.close();
  }
  // (A reload can still race a rewrite in place and fail its checksum; the manifest written last then fixes it.)
  assert.equal(host.activeVersion, "tiny@5.4.0");
});

test("the re-check alone re-attaches a watch whose parent directory was replaced too", async () => {
  const parent = join(root, "models-parent");
  const live = join(parent, "bundle");
  await writeTinyBundle(live, { seeds: [1], version: "6.0.0" });
  const host = await ModelHost.open(live, { logger: silentLogger, cacheSize: 0 });
  const watcher = watchModelSource(host, join(live, "manifest.json"), { debounceMs: 20, recheckMs: 100 });
  try {
    await rm(parent, { recursive: true, force: true });
    await writeTinyBundle(live, { seeds: [2], version: "6.1.0" });
    await until(() => host.activeVersion === "tiny@6.1.0", 20_000);
    await writeTinyBundle(live, { seeds: [3], version: "6.2.0" });
    await until(() => host.activeVersion === "tiny@6.2.0", 20_000);
  } finally {
    watcher.close();
    await host.close();
  }
});
