// The data flywheel end to end, on a small set: a running axon captures the challenges it answers → the captures are
// imported into the dataset store → `roadwork mine` picks the hard cases → `roadwork label` asks the teacher (the
// loopback Bedrock fake, through the real SDK) and serves the review page, which a person (headless Chromium) works
// through with the keyboard → a new dataset version with teacher and human labels → `roadwork train` on it.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Keyring } from "@polkadot/keyring";
import { MetagraphSnapshot } from "@roadwork/chain/snapshot";
import { generateDataset, loadBatch, localDatasetStore } from "@roadwork/data";
import { loadScorer, silentLogger as quietInference, readBundleDir } from "@roadwork/inference";
import {
  ChallengeCapture,
  createAxon,
  LocalCaptureStore,
  SwappableMetagraph,
  silentLogger,
  startAxon,
} from "@roadwork/miner";
import { Dendrite, ensureCryptoReady } from "@roadwork/protocol";
import { challengeView, ensureDemoModel } from "@roadwork/training";
import { chromium } from "playwright-core";
import { answers, FakeBedrock } from "../support/fake-bedrock.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TEACHER_MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0";
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function roadwork(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, ["--import", "tsx", "packages/cli/src/main.ts", ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<Run>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

async function ok(args: string[], env: Record<string, string> = {}): Promise<string> {
  const started = performance.now();
  const r = await roadwork(args, env).done;
  process.stderr.write(`(${((performance.now() - started) / 1000).toFixed(1)} s) `);
  assert.equal(r.code, 0, `roadwork ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
  process.stderr.write(`$ roadwork ${args.join(" ")}\n${r.stdout}`);
  return r.stdout;
}

describe(
  "flywheel: capture → import → mine → teacher → review → version → train",
  {
    skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM}`,
  },
  () => {
    let dir: string;
    let fake: FakeBedrock;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "roadwork-flywheel-"));
      fake = await FakeBedrock.start();
    });
    after(async () => {
      await fake.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("turns captured challenges into labels and a retrained model", { timeout: 600_000 }, async () => {
      const data = join(dir, "data");
      const bundle = join(dir, "model");
      // A small demo model (procedural scenes, the built-in demo backbone) and its dataset as the store's first version.
      const demo = await ensureDemoModel({
        datasetDir: join(dir, "procedural"),
        bundleDir: bundle,
        scenes: 120,
        viewsPerImage: 1,
      });
      await ok(["dataset", "migrate", join(dir, "procedural", "manifest.json"), "--out", data]);

      // Validators' challenges: fresh procedural scenes (other seeds), augmented as January validators did.
      const challenges = await generateDataset({ dir: join(dir, "challenges"), count: 24, baseSeed: 90_000 });
      const truth = new Map<string, 0 | 1>();
      const images: Uint8Array[] = [];
      for (const r of challenges.manifest.records) {
        const bytes = new Uint8Array(await challengeView(challenges, r, `challenge-${r.id}`));
        truth.set(sha(bytes), r.label);
        images.push(bytes);
      }

      // 1. A running axon answers them and keeps them (band 0.5: every challenge is a capture here).
      await ensureCryptoReady();
      const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
      const miner = keyring.addFromUri("//Bob");
      const validator = keyring.addFromUri("//Alice");
      const scorer = await loadScorer({ model: bundle, executionProvider: "cpu", logger: quietInference });
      const capture = new ChallengeCapture({ store: new LocalCaptureStore(data), config: { band: 0.5 } });
      const axon = createAxon({
        hotkey: { address: miner.address },
        scorer,
        metagraph: new SwappableMetagraph(
          MetagraphSnapshot.parse({
            netuid: 323,
            block: 1,
            neurons: [
              { uid: 0, hotkey: validator.address, stake: 1000, validatorPermit: true },
              { uid: 1, hotkey: miner.address, stake: 1, validatorPermit: false },
            ],
          }),
        ),
        // One validator sends every challenge back to back here: the per-hotkey rate limit (burst 20, 2/s) is not
        // what this test is about, and on a fast machine it would answer 429 from the 21st challenge on.
        config: { host: "127.0.0.1", port: 0, signatureVerification: "inline", rateLimit: { burst: 1000 } },
        logger: silentLogger,
        capture,
      });
      const running = await startAxon(axon);
      try {
        const dendrite = new Dendrite({ signer: { address: validator.address, sign: (m) => validator.sign(m) } });
        const target = { ip: "127.0.0.1", port: running.port, hotkey: miner.address };
        for (const image of [...images, images[0]!]) {
          const r = await dendrite.call({ axon: target, image, timeout: 9 });
          assert.equal(r.status, 200);
        }
      } finally {
        await running.close(2_000);
        await capture.close();
        await scorer.close();
      }
      const kept = capture.stats;
      process.stderr.write(`captures: ${JSON.stringify(kept)}\n`);
      assert.equal(kept.written, 24);
      assert.equal(kept.duplicates, 1);
      assert.equal(kept.dropped + kept.failed, 0);

      // 2. Import the captures into the store (unlabelled, source "captured").
      const imported = await ok(["dataset", "import", data, "--out", data]);
      assert.match(imported, /24/);
      const store = localDatasetStore(data);
      const afterImport = (await store.latestVersion())!;
      assert.equal(afterImport.records.filter((r) => r.source === "captured" && r.label === null).length, 24);

      // 3. Mine a batch of 12 hard cases.
      const mined = await ok(["mine", "--data", data, "--model", bundle, "--budget", "12"]);
      assert.match(mined, /mined batch [0-9a-f]{16}: 12 cases of 24 unlabelled/);

      // 4. The teacher on the Bedrock fake: right and sure on most, a refusal and an unsure answer, one throttled call.
      let call = 0;
      fake.converse.respond((c) => {
        call++;
        const label = truth.get(c.images[0]!.sha256);
        if (call === 2) return answers.throttled();
        if (call === 4) return answers.refusal();
        if (call === 6) return answers.label(label ?? 0, 0.55);
        return answers.label(label ?? 0, 0.95, "scripted truth");
      });
      const labelRun = roadwork(["label", "--data", data, "--teacher", "bedrock", "--teacher-model", TEACHER_MODEL], {
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url,
        AWS_REGION: fake.region,
        AWS_ACCESS_KEY_ID: fake.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: fake.credentials.secretAccessKey,
      });
      const url = await new Promise<string>((resolve, reject) => {
        let seen = "";
        labelRun.child.stdout!.on("data", (d: Buffer) => {
          seen += d.toString();
          const m = /review: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(seen);
          if (m) resolve(m[1]!);
        });
        labelRun.child.on("close", () => reject(new Error(`roadwork label ended before serving:\n${seen}`)));
      });

      // 5. A person reviews what the teacher left, pressing the right key for each image.
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
      let reviewed = 0;
      try {
        const page = await browser.newPage();
        await page.goto(url);
        await page
          .locator("#progress")
          .getByText(/^0 \/ \d+ reviewed$/)
          .waitFor();
        const total = Number(/\/ (\d+)/.exec((await page.locator("#progress").textContent()) ?? "")?.[1]);
        for (let i = 0; i < total; i++) {
          const shown = await page.locator("#image").getAttribute("data-sha256");
          await page.keyboard.press(truth.get(shown ?? "") === 1 ? "r" : "n");
          await page
            .locator("#progress")
            .getByText(`${i + 1} / ${total} reviewed`)
            .waitFor();
          reviewed++;
        }
        await page.getByRole("button", { name: "Save & finish" }).click();
        await page.getByText(/Saved dataset version [0-9a-f]{64}/).waitFor();
      } finally {
        await browser.close();
      }
      const labelled = await labelRun.done;
      process.stderr.write(`$ roadwork label …\n${labelled.stdout}`);
      assert.equal(labelled.code, 0, labelled.stderr);
      const teacherLine = /teacher bedrock:\S+: (\d+) labelled, (\d+) abstained.*, (\d+) disagreed/.exec(
        labelled.stdout,
      );
      assert.ok(teacherLine, labelled.stdout);
      const [t, a, d] = teacherLine.slice(1).map(Number) as [number, number, number];
      assert.equal(t + a + d, 12);
      assert.ok(a >= 2, "the refusal and the unsure answer were not written");
      assert.equal(reviewed, a + d);
      const saved = /saved version ([0-9a-f]{64}): (\d+) human labels/.exec(labelled.stdout);
      assert.ok(saved);
      assert.equal(Number(saved[2]), reviewed);

      // 6. The new version: the mined captures carry teacher and human labels, each equal to the truth.
      const version = (await store.latestVersion())!;
      assert.equal(version.id, saved[1]);
      const labelledCaptures = version.records.filter((r) => r.source === "captured" && r.label !== null);
      assert.equal(labelledCaptures.length, 12);
      for (const r of labelledCaptures) {
        assert.equal(r.label, truth.get(r.sha256), `${r.sha256} labelled by ${r.labelSource}`);
        assert.ok(r.labelSource === "teacher" || r.labelSource === "human");
        assert.equal(r.split, "train"); // captured images train; val/test stay the store's evaluation images
      }
      assert.equal(version.counts.byLabelSource.human, reviewed);
      assert.equal(version.counts.byLabelSource.teacher, t);
      assert.ok(fake.requests.every((r) => r.httpVersion === "2.0" && r.signingService === "bedrock"));

      // 6b. Mining again: the labelled images are covered ground, and no labelled image is picked.
      const again = await ok(["mine", "--data", data, "--model", bundle, "--budget", "4", "--labelled-sample", "8"]);
      assert.match(again, /4 cases of 12 unlabelled \(0 unreadable\), 8 labelled as covered ground/);
      const labelledShas = new Set(version.records.filter((r) => r.label !== null).map((r) => r.sha256));
      const secondId = /mined batch ([0-9a-f]{16})/.exec(again)![1]!;
      const second = await loadBatch(store, secondId);
      assert.equal(second.mining.labelledCovered, 8);
      assert.ok(second.items.every((i) => !labelledShas.has(i.sha256)));

      // 7. Train on the new version.
      const retrained = join(dir, "retrained");
      const trained = await ok(["train", "--data", data, "--out", retrained, "--views", "1", "--epochs", "30"]);
      assert.match(trained, /held-out MCC/);
      const out = await readBundleDir(retrained);
      const trainedOn = out.manifest.training?.dataset as { id?: string } | undefined;
      assert.equal(trainedOn?.id, version.id);
      assert.ok(demo.manifest.name);
    });
  },
);
