// The trainer task as a real process: SIGTERM mid-embedding (what a spot reclaim sends) → it checkpoints and exits
// 143 within seconds; a new process on the same run resumes from the cache and finishes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { generateDataset } from "@roadwork/data";
import { LocalDirStore, LocalPointerStore, versionDataset } from "@roadwork/pipeline";
import { demoBackboneInput } from "@roadwork/training";

const MAIN = new URL("./main.ts", import.meta.url).pathname;
let dir: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "roadwork-trainer-"));
  await generateDataset({
    dir: join(dir, "dataset"),
    count: 96,
    width: 160,
    height: 120,
    splitFractions: { train: 0.45, val: 0.2, test: 0.35 },
  });
  const { trainJob } = await versionDataset(
    {
      runId: "kill-1",
      dataset: { manifest: join(dir, "dataset", "manifest.json") },
      train: { viewsPerImage: 1, valViewsPerImage: 1, batchSize: 4, flushEvery: 8, head: { epochs: 5 } },
    },
    {
      store: new LocalDirStore(join(dir, "store")),
      pointer: new LocalPointerStore(join(dir, "current.json")),
      backbone: async () => demoBackboneInput(),
      log: () => {},
    },
  );
  env = {
    ...process.env,
    ROADWORK_STEP: "train",
    ROADWORK_STEP_INPUT: JSON.stringify(trainJob),
    ROADWORK_STORE: join(dir, "store"),
    ROADWORK_POINTER: join(dir, "current.json"),
    ROADWORK_DEVICE: "cpu",
  };
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

function runTrainer(onStarted?: (child: ReturnType<typeof spawn>) => void) {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    out += d;
  });
  onStarted?.(child);
  return new Promise<{ code: number | null; out: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, out })),
  );
}

const shards = async () =>
  (await readdir(join(dir, "store", "embeddings"), { recursive: true }).catch(() => [] as string[])).filter((f) =>
    String(f).endsWith(".emb"),
  ).length;

test("SIGTERM mid-run: checkpoint and exit 143 within seconds; the next task resumes from the cache", async () => {
  let signalledAt = 0;
  const first = await runTrainer((child) => {
    const poll = setInterval(async () => {
      if ((await shards()) > 0 && signalledAt === 0) {
        signalledAt = Date.now();
        child.kill("SIGTERM");
        clearInterval(poll);
      }
    }, 50);
    child.on("exit", () => clearInterval(poll));
  });
  assert.ok(signalledAt > 0, `the trainer never flushed a shard:\n${first.out}`);
  assert.equal(first.code, 143, first.out);
  assert.ok(Date.now() - signalledAt < 20_000, "the trainer took too long to stop");
  const checkpoint = JSON.parse(await readFile(join(dir, "store", "runs", "kill-1", "checkpoint.json"), "utf8"));
  assert.equal(checkpoint.interruptions, 1);
  assert.ok(checkpoint.cachedVectors >= 8);
  assert.match(first.out, /interrupted: checkpoint written/);

  const second = await runTrainer();
  assert.equal(second.code, 0, second.out);
  const trained = JSON.parse(await readFile(join(dir, "store", "runs", "kill-1", "train.json"), "utf8"));
  assert.equal(trained.resumed.interruptions, 1);
  assert.ok(trained.cache.hits >= checkpoint.cachedVectors, JSON.stringify(trained.cache));
  assert.ok(trained.cache.misses > 0);
  // The phase timings reached the log as an EMF document.
  assert.match(second.out, /"CloudWatchMetrics".*"EmbeddingsCached"/);
});
