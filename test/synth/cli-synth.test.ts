// `roadwork synth` end to end, as a separate process reaching the loopback Bedrock only through the AWS SDK's
// standard environment (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_ENDPOINT_URL_BEDROCK, AWS_REGION, credentials):
// estimate before spending, progress, a committed dataset version with i2i images in their source's group, the
// report in Chromium, and the hard stop when the budget runs out mid-batch.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { localDatasetStore } from "@roadwork/data";
import { chromium } from "playwright-core";
import { FakeBedrock } from "../support/fake-bedrock.ts";
import { FakeImageModels } from "../support/fake-bedrock-images.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

function roadwork(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "packages/cli/src/main.ts"), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

describe("roadwork synth", () => {
  let fake: FakeBedrock;
  let models: FakeImageModels;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    fake = await FakeBedrock.start();
    models = new FakeImageModels().install(fake);
    dir = await mkdtemp(join(tmpdir(), "roadwork-synth-cli-"));
    env = {
      AWS_REGION: fake.region,
      AWS_ACCESS_KEY_ID: fake.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: fake.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url,
      AWS_ENDPOINT_URL_BEDROCK: fake.url,
    };
  });
  after(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("procedural, then SD3.5 image-to-image from it: estimate first, a gated version, i2i children in their source's group", async () => {
    const base = join(dir, "base");
    const proc = await roadwork(
      ["synth", "--generator", "procedural", "--count", "6", "--out", base, "--batch-id", "base", "--backbone", "none"],
      env,
    );
    assert.equal(proc.code, 0, proc.stderr);
    assert.match(proc.stdout, /estimate: 6 × \$0\.0000 = \$0\.00/);

    const out = join(dir, "sd35");
    const res = await roadwork(
      [
        "synth",
        "--generator",
        "bedrock:stability.sd3-5-large-v1:0",
        "--count",
        "4",
        "--from",
        base,
        "--strength",
        "0.7",
        "--out",
        out,
        "--batch-id",
        "i2i",
        "--budget-usd",
        "1",
      ],
      env,
    );
    assert.equal(res.code, 0, res.stderr + res.stdout);
    const lines = res.stdout.split("\n");
    const estimateAt = lines.findIndex((l) => l.startsWith("estimate: 4 × $0.0800 = $0.32"));
    assert.ok(estimateAt >= 0 && estimateAt < lines.findIndex((l) => l.startsWith("generated ")), res.stdout);
    assert.match(res.stderr, /synth +4\/4/);
    assert.match(res.stdout, /cost \$0\.32/);
    assert.match(res.stdout, /distance to \d+ reference images \(demo backbone\): KID -?\d/);
    const i2iCalls = models.calls.filter((c) => c.body.mode === "image-to-image");
    assert.equal(i2iCalls.length, 4);
    assert.ok(i2iCalls.every((c) => c.body.strength === 0.7));

    const version = (await localDatasetStore(out).latestVersion())!;
    const synthetic = version.records.filter((r) => r.source === "synthetic");
    assert.ok(synthetic.length >= 3);
    for (const r of synthetic) {
      assert.equal(r.details.generator, "bedrock:stability.sd3-5-large-v1:0");
      assert.match(r.details.parentSha256 ?? "", /^[0-9a-f]{64}$/);
      assert.match(r.details.prompt ?? "", /^Photorealistic dashcam footage/);
      assert.equal(r.labelSource, "prompt");
    }

    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage();
      await page.goto(`file://${join(out, "synth", "i2i", "report.html")}`);
      const summary = await page.locator("#summary").innerText();
      assert.match(summary, /cost\s+\$0\.32 of an estimated \$0\.32/);
      const loaded = await page.$$eval("figure img", (imgs) =>
        imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth),
      );
      assert.equal(loaded.length, 4);
      assert.ok(
        loaded.every((w) => w > 0),
        "every contact-sheet image loads",
      );
    } finally {
      await browser.close();
    }
  });

  it("stops at the budget mid-batch with exit code 3, keeps what it made, and a rerun spends nothing more", async () => {
    const out = join(dir, "budget");
    const args = [
      "synth",
      "--generator",
      "bedrock:stability.stable-image-core-v1:1",
      "--count",
      "10",
      "--out",
      out,
      "--batch-id",
      "wk48",
      "--budget-usd",
      "0.2",
      "--backbone",
      "none",
    ];
    const res = await roadwork(args, env);
    assert.equal(res.code, 3, res.stderr + res.stdout);
    assert.match(res.stdout, /estimate: 10 × \$0\.0400 = \$0\.40/);
    assert.match(res.stdout, /note: the estimate exceeds what is left today/);
    assert.match(
      res.stderr,
      /ALERT Roadwork synthetic generation stopped at its budget: budget reached: day cap \$0\.20, spent \$0\.20/,
    );
    assert.match(res.stdout, /generated 5 of 10/);
    assert.match(res.stdout, /stopped early \(budget\)/);
    const ledger = JSON.parse(await readFile(join(out, "synth-ledger.json"), "utf8"));
    assert.equal(
      Object.values(ledger.entries as Record<string, { usd: number }>)
        .reduce((s, e) => s + e.usd, 0)
        .toFixed(2),
      "0.20",
    );
    assert.ok(existsSync(join(out, "synth", "wk48", "report.html")));
    const calls = models.calls.length;
    const again = await roadwork(args, env);
    assert.equal(again.code, 3);
    assert.equal(models.calls.length, calls, "the same batch again: charged requests are not generated twice");
    assert.match(again.stdout, /cost \$0\.00/);
  });

  it("refuses a LEGACY model before spending anything", async () => {
    models.lifecycle.set("stability.stable-image-ultra-v1:1", {
      status: "LEGACY",
      legacyTime: new Date("2026-11-01T00:00:00Z"),
    });
    const calls = models.calls.length;
    const res = await roadwork(
      [
        "synth",
        "--generator",
        "bedrock:stability.stable-image-ultra-v1:1",
        "--count",
        "2",
        "--out",
        join(dir, "legacy"),
        "--backbone",
        "none",
      ],
      env,
    );
    assert.equal(res.code, 1);
    assert.match(res.stderr, /is LEGACY \(legacy since 2026-11-01\): refusing/);
    assert.equal(models.calls.length, calls);
  });
});
