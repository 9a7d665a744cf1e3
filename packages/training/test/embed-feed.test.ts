// Rows written into shared batch buffers by the view workers (ViewPool.feed) embed exactly like the single-thread
// path that decodes each image and copies its row here: same rows, same order, same failures.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generateDataset, recordPath } from "@roadwork/data";
import { challengeView, demoBackboneInput, EmbeddingExtractor, extractorSpec, ViewPool } from "../src/index.ts";

test("a RowFeed embeds byte-identically to the single-thread path, with and without workers, and fails the same", async () => {
  const dir = await mkdtemp(join(tmpdir(), "roadwork-embed-feed-"));
  const spec = extractorSpec(demoBackboneInput());
  const workers = new ViewPool(2);
  const here = new ViewPool(0);
  const extractors = await Promise.all(
    (["never", "always"] as const).map((mode) => EmbeddingExtractor.load(spec, { preprocessInGraph: mode })),
  );
  try {
    // Non-square frames (letterboxed) and 224 views, 11 images in batches of 4: a short last batch.
    const ds = await generateDataset({ dir, count: 6, width: 160, height: 120 });
    const jobs = Array.from({ length: 11 }, (_, i) => {
      const r = ds.manifest.records[i % ds.manifest.records.length]!;
      return { r, format: (["jan", "apr", "may"] as const)[i % 3]!, seed: `feed:${i}` };
    });
    const bytes = await Promise.all(jobs.map((j) => challengeView(ds, j.r, j.seed, j.format)));
    const options = { batchSize: 4, prefetch: 2 };
    for (const extractor of extractors) {
      const layout = extractor.layout;
      const reference = await extractor.embed(bytes.length, async (i) => bytes[i]!, options);
      assert.equal(reference.rows, 11);
      for (const [name, pool] of [
        ["workers", workers],
        ["this thread", here],
      ] as const) {
        const given = await extractor.embed(
          bytes.length,
          pool.feed((i) => ({ bytes: bytes[i]! })),
          options,
        );
        assert.deepEqual(given, reference, `${layout}, bytes on ${name}`);
        // Views drawn from the stored frames (the bytes challengeView draws), twice: the buffers are reused.
        for (const pass of [1, 2]) {
          const drawn = await extractor.embed(
            jobs.length,
            pool.feed((i) => ({ path: recordPath(ds, jobs[i]!.r), format: jobs[i]!.format, seed: jobs[i]!.seed })),
            options,
          );
          assert.deepEqual(drawn, reference, `${layout}, views drawn on ${name}, pass ${pass}`);
        }
      }
      // An undecodable image fails the call with the decoder's message on every path; the next call is unharmed.
      const broken = bytes.map((x, i) => (i === 6 ? new Uint8Array([0xff, 0xd8, 1, 2, 3]) : x));
      const message = await extractor
        .embed(broken.length, async (i) => broken[i]!, options)
        .then(
          () => assert.fail("a broken image embedded"),
          (e: Error) => e.message,
        );
      for (const pool of [workers, here]) {
        await assert.rejects(
          extractor.embed(
            broken.length,
            pool.feed((i) => ({ bytes: broken[i]! })),
            options,
          ),
          (e: Error) => e.message === message,
        );
        assert.deepEqual(
          await extractor.embed(
            bytes.length,
            pool.feed((i) => ({ bytes: bytes[i]! })),
            options,
          ),
          reference,
        );
      }
      await assert.rejects(
        extractor.embed(
          2,
          workers.feed((i) => ({ path: join(dir, `missing-${i}.jpg`), format: "jan", seed: "x" })),
        ),
        /ENOENT/,
      );
    }
  } finally {
    await Promise.all(extractors.map((e) => e.close()));
    await workers.close();
    await rm(dir, { recursive: true, force: true });
  }
});
