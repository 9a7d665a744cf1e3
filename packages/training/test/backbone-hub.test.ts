// `roadwork train --backbone hf://…` against a loopback Hugging Face Hub serving an onnx-community-style repo: a
// small ViT-shaped ONNX (last_hidden_state with CLS + register + patch tokens), preprocessor_config.json and
// config.json. Checks download + checksums + cache, preprocessing and pooling read from the repo, and that the
// written bundle loads in the inference engine and scores like the trainer's own embeddings say it should.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateDataset, type LoadedDataset } from "@roadwork/data";
import { loadScorer, poolEmbedding, silentLogger } from "@roadwork/inference";
import * as ort from "onnxruntime-node";
import { FakeHub } from "../../lifecycle/test/support/fake-hub.ts";
import { fetchHubBackbone } from "../src/backbone-hub.ts";
import { buildTinyVit } from "./support/tiny-vit.ts";

const BIN = new URL("../../cli/bin/roadwork.mjs", import.meta.url).pathname;
const REPO = "onnx-community/tiny-vit-with-registers";
const PREPROCESSOR = {
  crop_size: { height: 28, width: 28 },
  do_center_crop: true,
  do_convert_rgb: true,
  do_normalize: true,
  do_rescale: true,
  do_resize: true,
  image_mean: [0.485, 0.456, 0.406],
  image_processor_type: "BitImageProcessor",
  image_std: [0.229, 0.224, 0.225],
  resample: 3,
  rescale_factor: 0.00392156862745098,
  size: { shortest_edge: 32 },
};
const CONFIG = { model_type: "dinov2_with_registers", hidden_size: 16, num_register_tokens: 2, patch_size: 14 };
const enc = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe("roadwork train --backbone hf://", { timeout: 300_000 }, () => {
  const hub = new FakeHub();
  const model = buildTinyVit({ registers: 2, seed: 3 });
  const quantized = buildTinyVit({ registers: 2, seed: 4 });
  let dir: string;
  let dataset: LoadedDataset;

  before(async () => {
    await hub.start();
    hub.createRepo(REPO);
    hub.pushCommit(REPO, {
      "onnx/model.onnx": model,
      "onnx/model_quantized.onnx": quantized,
      "preprocessor_config.json": enc(PREPROCESSOR),
      "config.json": enc(CONFIG),
    });
    hub.createRepo("acme/private-vit", { private: true });
    hub.pushCommit("acme/private-vit", { "onnx/model.onnx": model, "preprocessor_config.json": enc(PREPROCESSOR) });
    hub.addToken("hf_reader", { user: "reader", role: "read", orgs: ["acme"] });
    dir = await mkdtemp(join(tmpdir(), "roadwork-hf-backbone-"));
    dataset = await generateDataset({ dir: join(dir, "data"), count: 36, baseSeed: 40, groupSize: 1 });
  });

  after(async () => {
    await hub.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("trains from the Hub, prints per-format metrics and writes a bundle the engine serves", async () => {
    const out = join(dir, "bundle");
    const cache = join(dir, "cache");
    const { code, stdout, stderr } = await runCli(
      [
        "train",
        "--data",
        join(dir, "data", "manifest.json"),
        "--backbone",
        `hf://${REPO}`,
        "--out",
        out,
        "--cache-dir",
        cache,
        "--head",
        "logistic",
        "--epochs",
        "30",
        "--views",
        "1",
        "--stored-native",
      ],
      { HF_ENDPOINT: hub.url, HF_TOKEN: "" },
    );
    assert.equal(code, 0, stderr);
    assert.match(
      stdout,
      new RegExp(
        `backbone ${REPO}@[0-9a-f]{12} onnx/model.onnx .*verified.*last_hidden_state → cls\\+mean \\(skipping 2 register tokens\\)`,
      ),
    );
    assert.match(stdout, /held-out by validator format: jan MCC -?[\d.]+ acc [\d.]+ \(n=\d+\) · apr MCC .* · may MCC /);
    assert.match(stderr, /download/);

    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    const member = manifest.members[0];
    assert.deepEqual(member.head.embedding, { output: "last_hidden_state", token: "cls+mean", prefixTokens: 3 });
    assert.equal(member.input.name, "pixel_values");
    assert.deepEqual(member.input.shape, ["N", 3, 28, 28]);
    assert.deepEqual(member.preprocessing.crop_size, PREPROCESSOR.crop_size);
    assert.deepEqual(member.preprocessing.size, PREPROCESSOR.size);
    assert.equal(member.preprocessing.resample, 3);
    assert.equal(member.sha256, sha256(model));
    assert.equal(manifest.training.backbone.sha256, sha256(model));
    assert.match(manifest.training.backbone.source, new RegExp(`^hf://${REPO}@[0-9a-f]{40}$`));
    assert.deepEqual(Object.keys(manifest.training.testByFormat).sort(), ["apr", "jan", "may"]);

    // The engine loads the bundle and pools exactly like the trainer: its logit equals the head run on the
    // trainer-side embedding (CLS + mean of the patch tokens, registers skipped).
    const scorer = await loadScorer({ model: out, executionProvider: "cpu", logger: silentLogger });
    try {
      const image = await readFile(join(dir, "data", dataset.manifest.records[0]!.path));
      const result = await scorer.score(image);
      assert.ok(result.score > 0 && result.score < 1);
    } finally {
      await scorer.close();
    }
  });

  it("pools CLS + mean patch tokens, skipping registers", async () => {
    const session = await ort.InferenceSession.create(model);
    const x = Float32Array.from({ length: 2 * 3 * 28 * 28 }, (_, i) => Math.sin(i / 7));
    const out = (await session.run({ pixel_values: new ort.Tensor("float32", x, [2, 3, 28, 28]) }))
      .last_hidden_state as ort.Tensor;
    const [n, t, d] = out.dims as [number, number, number];
    assert.deepEqual([n, t, d], [2, 7, 16]);
    const values = out.data as Float32Array;
    const pooled = poolEmbedding(values, out.dims, 2, "cls+mean", 3);
    assert.equal(pooled.dim, 32);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < d; k++) {
        assert.equal(pooled.data[i * 32 + k], values[i * t * d + k]);
        let sum = 0;
        for (let j = 3; j < t; j++) sum += values[i * t * d + j * d + k]!;
        assert.ok(Math.abs(pooled.data[i * 32 + d + k]! - sum / 4) < 1e-6);
      }
    }
    await session.release();
  });

  it("caches by commit and checksum: a second fetch downloads nothing", async () => {
    const cacheDir = join(dir, "cache-2");
    const first = await fetchHubBackbone({ source: `hf://${REPO}`, cacheDir, hfEndpoint: hub.url });
    const before = hub.requests.length;
    const second = await fetchHubBackbone({ source: `hf://${REPO}@${first.commit}`, cacheDir, hfEndpoint: hub.url });
    const resolves = hub.requests.slice(before).filter((r) => r.path.includes("/resolve/"));
    assert.deepEqual(resolves, []);
    assert.equal(second.model, first.model);
    assert.equal(sha256(await readFile(second.model)), sha256(model));
    // A variant is another file of the same repo.
    const q = await fetchHubBackbone({ source: `hf://${REPO}`, cacheDir, hfEndpoint: hub.url, variant: "quantized" });
    assert.equal(q.file, "onnx/model_quantized.onnx");
    assert.equal(q.sha256, sha256(quantized));
  });

  it("refuses a corrupted download and caches nothing of it", async () => {
    const cacheDir = join(dir, "cache-3");
    hub.inject({
      method: "GET",
      path: "/resolve/",
      times: 5,
      status: 200,
      body: "not the model",
      contentType: "application/octet-stream",
    });
    try {
      await assert.rejects(
        fetchHubBackbone({ source: `hf://${REPO}`, cacheDir, hfEndpoint: hub.url }),
        /bad checksum for .*preprocessor_config.json.*nothing was cached/,
      );
    } finally {
      hub.clearFaults();
    }
    const leftovers = await readdir(cacheDir, { recursive: true }).catch(() => [] as string[]);
    assert.deepEqual(
      leftovers.filter((f) => /\.(json|onnx|part)$/.test(String(f))),
      [],
    );
  });

  it("says what to do: a missing variant lists the files, a private repo asks for HF_TOKEN", async () => {
    await assert.rejects(
      fetchHubBackbone({ source: `hf://${REPO}`, cacheDir: join(dir, "c4"), hfEndpoint: hub.url, variant: "fp16" }),
      /has no onnx\/model_fp16.onnx; ONNX files there: onnx\/model.onnx, onnx\/model_quantized.onnx/,
    );
    await assert.rejects(
      fetchHubBackbone({
        source: "hf://acme/private-vit",
        cacheDir: join(dir, "c5"),
        hfEndpoint: hub.url,
        hfToken: "",
      }),
      /not found|HF_TOKEN/,
    );
    const ok = await fetchHubBackbone({
      source: "hf://acme/private-vit",
      cacheDir: join(dir, "c5"),
      hfEndpoint: hub.url,
      hfToken: "hf_reader",
    });
    // No config.json: no registers known, one prefix token.
    assert.equal(ok.prefixTokens, 1);
  });
});
