// The review page in real headless Chromium (Debian's /usr/bin/chromium through playwright-core): a person presses
// keys and clicks; the saved result is a new dataset version holding exactly their labels.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createAdaptorServer } from "@hono/node-server";
import {
  type BatchItem,
  createReviewApp,
  type DatasetStore,
  describeImage,
  type LabellingBatch,
  localDatasetStore,
  newRecord,
  type ReviewResult,
  reviewQueue,
} from "@roadwork/data";
import { chromium } from "playwright-core";
import sharp from "sharp";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

async function image(seed: number): Promise<Uint8Array> {
  return new Uint8Array(
    await sharp({ create: { width: 320, height: 180, channels: 3, background: { r: 40 + seed * 30, g: 80, b: 120 } } })
      .jpeg()
      .toBuffer(),
  );
}

describe("review page", { skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM}` }, () => {
  let dir: string;
  let store: DatasetStore;
  let shas: string[];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "roadwork-review-"));
    store = localDatasetStore(dir);
    const records = [];
    for (let i = 0; i < 5; i++) {
      const bytes = await image(i);
      await store.putImage(bytes);
      records.push(newRecord(await describeImage(bytes), { source: "captured", details: { score: 0.4 + i * 0.05 } }));
    }
    await store.update({ note: "captures", name: "captures", add: records });
    shas = records.map((r) => r.sha256);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("labels with keys and clicks, undoes, skips, and saves the next dataset version", async () => {
    const parent = (await store.getLatest())!;
    const items: BatchItem[] = shas.map((sha256, rank) => ({
      sha256,
      mediaType: "image/jpeg",
      score: 0.4 + rank * 0.05,
      margin: 0.8,
      disagreement: 0,
      uncertainty: 0.8,
      rank,
      validatorFormat: "native",
      teacher:
        rank === 0
          ? { teacher: "bedrock:m", outcome: "labelled", label: 0, confidence: 0.9, reason: "empty road" }
          : rank === 1
            ? { teacher: "bedrock:m", outcome: "disagreed", label: 1, confidence: 0.92, reason: "cones on the right" }
            : { teacher: "bedrock:m", outcome: "abstained", label: null, confidence: null, reason: "refused: sorry" },
    }));
    const batch: LabellingBatch = {
      schemaVersion: 1,
      id: "00112233aabbccdd",
      createdAt: new Date().toISOString(),
      datasetVersion: parent,
      modelVersion: "demo@1.0.0",
      mining: {},
      items,
    };
    const queue = reviewQueue(batch);
    assert.equal(queue.length, 4); // the teacher-labelled case is not shown
    let saved: ReviewResult | undefined;
    const review = createReviewApp({
      store,
      batch,
      queue,
      onSaved: (r) => {
        saved = r;
      },
    });
    const server = createAdaptorServer({ fetch: review.app.fetch });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage();
      await page.goto(url);
      const progress = page.locator("#progress");
      await progress.getByText("0 / 4 reviewed").waitFor();
      // The case on screen: its image, the model score and the teacher's disagreeing answer.
      assert.equal(await page.locator("#image").getAttribute("data-sha256"), shas[1]);
      assert.match((await page.locator("#teacher").textContent()) ?? "", /teacher: roadwork \(92%, disagreed\) cones/);
      assert.match((await page.locator("#score").textContent()) ?? "", /^0\.450/);
      // The browser really decoded the image the page points at (naturalWidth is 0 for a broken image).
      const loaded = await page.waitForFunction(
        "(() => { const i = document.getElementById('image'); return i.complete && i.naturalWidth; })()",
      );
      assert.equal(await loaded.jsonValue(), 320);

      await page.keyboard.press("r"); // shas[1] → roadwork
      await progress.getByText("1 / 4 reviewed").waitFor();
      await page.keyboard.press("0"); // shas[2] → no roadwork (then undone)
      await progress.getByText("2 / 4 reviewed").waitFor();
      await page.keyboard.press("Backspace");
      await progress.getByText("1 / 4 reviewed").waitFor();
      assert.equal(await page.locator("#image").getAttribute("data-sha256"), shas[2]);
      await page.getByRole("button", { name: "Roadwork (r)" }).click(); // shas[2] → roadwork
      await progress.getByText("2 / 4 reviewed").waitFor();
      await page.keyboard.press("s"); // shas[3] skipped
      await progress.getByText("3 / 4 reviewed").waitFor();
      await page.keyboard.press("n"); // shas[4] → no roadwork
      await progress.getByText("4 / 4 reviewed").waitFor();
      await page.getByText("All 4 cases reviewed").waitFor();
      await page.keyboard.press("r"); // nothing left: ignored
      await page.getByRole("button", { name: "Save & finish" }).click();
      await page.getByText(/Saved dataset version [0-9a-f]{64} with 3 human labels \(1 skipped\)/).waitFor();
    } finally {
      await browser.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    assert.ok(saved);
    assert.deepEqual(
      { written: saved.written, skipped: saved.skipped, rejected: saved.rejected },
      {
        written: 3,
        skipped: 1,
        rejected: 0,
      },
    );
    const version = await store.latestVersion();
    assert.equal(version?.id, saved.versionId);
    assert.equal(version?.parent, parent);
    const bySha = new Map(version!.records.map((r) => [r.sha256, r]));
    assert.deepEqual(
      shas.map((s) => [bySha.get(s)?.label, bySha.get(s)?.labelSource]),
      [
        [null, null],
        [1, "human"],
        [1, "human"],
        [null, null],
        [0, "human"],
      ],
    );
    assert.equal(version?.counts.byLabelSource.human, 3);
  });

  it("refuses API calls without the page's session token", async () => {
    const batch: LabellingBatch = {
      schemaVersion: 1,
      id: "00112233aabbccdd",
      createdAt: new Date().toISOString(),
      datasetVersion: (await store.getLatest())!,
      modelVersion: null,
      mining: {},
      items: [],
    };
    const { app, token } = createReviewApp({ store, batch, queue: [] });
    const forged = await app.request("/api/save", { method: "POST" });
    assert.equal(forged.status, 403);
    const ok = await app.request("/api/session", { headers: { "x-review-token": token } });
    assert.equal(ok.status, 200);
  });
});
