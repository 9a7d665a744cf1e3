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
