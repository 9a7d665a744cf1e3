import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import sharp from "sharp";
import { DecodeThreadPriority, LIBVIPS_WORKER, type ThreadTable } from "../src/decode-priority.ts";

/** Niceness of each of this process's threads, by name, from /proc (field 19 of /proc/self/task/<tid>/stat). */
function threadNices(): { name: string; nice: number }[] {
  return readdirSync("/proc/self/task").map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { name: readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim(), nice: Number(fields[16]) };
  });
}

const linux = process.platform === "linux";

test(
  "libvips' worker threads are lowered to the configured niceness; the rest of the process keeps its own",
  {
    skip: !linux && "per-thread priorities are read from /proc",
  },
  async () => {
    // A JPEG shrunk on load, as a large frame is decoded: libvips starts its workers.
    const jpeg = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: "#67c" } })
      .jpeg()
      .toBuffer();
    await sharp(jpeg).resize({ width: 224, height: 224, fit: "fill", fastShrinkOnLoad: true }).raw().toBuffer();
    const before = threadNices();
    assert.ok(
      before.some((t) => t.name === LIBVIPS_WORKER && t.nice === 0),
      "libvips workers start at nice 0",
    );

    const priority = new DecodeThreadPriority(19);
    const workers = before.filter((t) => t.name === LIBVIPS_WORKER).length;
    assert.equal(priority.apply(), workers);
    const after = threadNices();
    for (const t of after.filter((t) => t.name === LIBVIPS_WORKER)) assert.equal(t.nice, 19);
    assert.ok(
      after.filter((t) => t.name !== LIBVIPS_WORKER).every((t) => t.nice === 0),
      "other threads untouched",
    );
    assert.equal(priority.apply(), 0, "each thread is lowered once");
    // Decoding still works on the lowered threads.
    const { info } = await sharp(jpeg).resize({ width: 224, height: 224, fit: "fill" }).raw().toBuffer({
      resolveWithObject: true,
    });
    assert.equal(info.width, 224);
  },
);

test("workers started or named later are lowered on a later call; a vanished thread is counted, not retried", () => {
  const threads = new Map<string, string>([
    ["1", "node"],
    ["2", LIBVIPS_WORKER],
  ]);
  const set: [string, number][] = [];
  const refuse = new Set<string>();
  const table: ThreadTable = {
    ids: () => [...threads.keys()],
    name: (id) => threads.get(id),
    setNice: (id, nice) => {
      if (refuse.has(id)) throw new Error("ESRCH");
      set.push([id, nice]);
    },
  };
  const priority = new DecodeThreadPriority(12, table);
  assert.equal(priority.apply(), 1);
  assert.deepEqual(set, [["2", 12]]);
  // Started after the first call: one not named yet, one gone before it can be lowered.
  threads.set("3", "node");
  threads.set("4", LIBVIPS_WORKER);
  refuse.add("4");
  assert.equal(priority.apply(), 0);
  threads.set("3", LIBVIPS_WORKER);
  assert.equal(priority.apply(), 1);
  assert.deepEqual(set, [
    ["2", 12],
    ["3", 12],
  ]);
  assert.deepEqual(priority.stats, { lowered: 2, failed: 1 });
  assert.equal(new DecodeThreadPriority(0, table).apply(), 0, "0 leaves every thread as started");
});
