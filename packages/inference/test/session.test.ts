import assert from "node:assert/strict";
import { test } from "node:test";
import { buildTinyClassifier } from "../src/onnx/tiny-classifier.ts";
import { AUTO_ORDER, createSession, deviceAvailable, EXECUTION_PROVIDERS, type Logger } from "../src/session.ts";

test("device table is frozen and auto tries CUDA before CPU", () => {
  assert.ok(Object.isFrozen(EXECUTION_PROVIDERS));
  assert.deepEqual(AUTO_ORDER, ["cuda", "cpu"]);
  assert.throws(() => {
    (EXECUTION_PROVIDERS as Record<string, unknown>).cuda = [];
  });
});

test("auto falls back to CPU with a logged reason when CUDA is unavailable; explicit cuda fails clearly", async (t) => {
  if (deviceAvailable("cuda").ok) {
    t.skip("this host has a CUDA provider; the fallback path is exercised on CPU-only hosts (CI)");
    return;
  }
  const warnings: { message: string; details?: Record<string, unknown> }[] = [];
  const logger: Logger = {
    info: () => {},
    warn: (message, details) => warnings.push({ message, ...(details ? { details } : {}) }),
  };
  const model = buildTinyClassifier({ size: 32 });
  const created = await createSession(model, { executionProvider: "auto", logger });
  assert.equal(created.device, "cpu");
  assert.match(created.fallbackReason ?? "", /cuda: .*CUDA provider/);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]?.message ?? "", /falling back to CPU/);
  await created.session.release();

  await assert.rejects(
    createSession(model, { executionProvider: "cuda", logger }),
    /cannot create an onnxruntime session on cuda: .*use executionProvider 'auto'/,
  );
  const cpu = await createSession(model, { executionProvider: "cpu", intraOpNumThreads: 1, logger });
  assert.equal(cpu.device, "cpu");
  assert.equal(cpu.fallbackReason, undefined);
  await cpu.session.release();
});

test("float16 models: half inputs and outputs are converted, and fp16 variants are ignored on CPU", async () => {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { writeBundle } = await import("../src/bundle/local.ts");
  const { loadScorer } = await import("../src/load.ts");
  const { GraphBuilder } = await import("../src/onnx/model.ts");
  const { silentLogger } = await import("../src/session.ts");
  const { jpeg, scene } = await import("./images.ts");
  // Mean red minus mean blue, as a logit: the same function in float32 and float16.
  const build = (half: boolean) => {
    const g = new GraphBuilder(half ? "half" : "full");
    g.input("pixel_values", half ? "float16" : "float32", ["N", 3, 224, 224]);
    g.node("Cast", ["pixel_values"], ["x"], { to: 1 });
    g.node("ReduceMean", ["x"], ["channels"], { axes: [2, 3], keepdims: 0 });
    g.initializer("w", Float32Array.of(1, 0, -1), [3, 1]);
    g.node("MatMul", ["channels", "w"], ["z"]);
    g.node("Cast", ["z"], ["logits"], { to: half ? 10 : 1 });
    g.output("logits", half ? "float16" : "float32", ["N", 1]);
    return g.toModel();
  };
  const dir = await mkdtemp(join(tmpdir(), "roadwork-fp16-"));
  try {
    const member = (id: string, dtype: "float16" | "float32") => ({
      id,
      onnx: `${id}.onnx`,
      input: { name: "pixel_values", shape: ["N", 3, 224, 224] as ["N", 3, 224, 224], dtype },
      output: { name: "logits", kind: "logit" as const },
    });
    await writeBundle(
      join(dir, "half"),
      { name: "half", version: "1.0.0", members: [member("h", "float16")] },
      { "h.onnx": build(true) },
    );
    await writeBundle(
      join(dir, "full"),
      { name: "full", version: "1.0.0", members: [{ ...member("f", "float32"), fp16: { onnx: "h.onnx" } }] },
      { "f.onnx": build(false), "h.onnx": build(true) },
    );
    const image = await jpeg(scene(224, 224, true), 224, 224);
    const half = await loadScorer({ model: join(dir, "half"), logger: silentLogger });
    const full = await loadScorer({ model: join(dir, "full"), logger: silentLogger });
    const [a, b] = [await half.score(image), await full.score(image)];
    assert.ok(Math.abs(a.score - b.score) < 2e-3, `${a.score} vs ${b.score}`);
    assert.ok(Math.abs(b.score - 0.5) > 0.01, `scene scored ${b.score}: the test function is too flat`);
    assert.equal(full.device, "cpu");
    await Promise.all([half.close(), full.close()]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("spinning and dynamic block size become onnxruntime config entries; the session computes the same", async () => {
  const { sessionConfigEntries } = await import("../src/session.ts");
  const { Tensor } = await import("onnxruntime-node");
  assert.deepEqual(sessionConfigEntries({}), {});
  assert.deepEqual(sessionConfigEntries({ allowSpinning: false, dynamicBlockBase: 4 }), {
    "session.intra_op.allow_spinning": "0",
    "session.dynamic_block_base": "4",
  });
  assert.deepEqual(sessionConfigEntries({ allowSpinning: true, dynamicBlockBase: 0 }), {
    "session.intra_op.allow_spinning": "1",
  });
  assert.throws(() => sessionConfigEntries({ dynamicBlockBase: 1.5 }), /dynamicBlockBase must be a whole number/);

  const model = buildTinyClassifier({ size: 32 });
  const input = new Float32Array(2 * 3 * 32 * 32).map((_, i) => Math.sin(i));
  const answers: Float32Array[] = [];
  for (const options of [{}, { allowSpinning: false, dynamicBlockBase: 4 }]) {
    const { session } = await createSession(model, { executionProvider: "cpu", intraOpNumThreads: 2, ...options });
    const name = session.inputNames[0] as string;
    const out = await session.run({ [name]: new Tensor("float32", input, [2, 3, 32, 32]) });
    answers.push(out[session.outputNames[0] as string]?.data as Float32Array);
    await session.release();
  }
  assert.deepEqual(answers[1], answers[0]);
});
