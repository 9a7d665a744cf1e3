// Backbone latency by batch size straight through onnxruntime-node, with the execution-provider settings the axon
// uses: first run at each size (which includes any per-shape algorithm search) and the median of the runs after it.
// Tells batching costs apart from the rest of the axon. Prints JSON.
//
//   node bench/gpu/batch-sweep.mjs --ep cuda --batches 1,2,4,8,16 model1.onnx [model2.onnx ...]
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { createSession, type ExecutionProviderChoice } from "@roadwork/inference";
import * as ort from "onnxruntime-node";
import { summarize } from "../lib/stats.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    ep: { type: "string", default: "cuda" },
    batches: { type: "string", default: "1,2,4,8,16" },
    runs: { type: "string", default: "20" },
    /** Then cycle through the sizes, changing shape on every run, as a micro-batching server does. */
    alternate: { type: "string", default: "0" },
  },
});
const batches = values.batches.split(",").map(Number);
const runs = Number(values.runs);
const results: Record<string, unknown>[] = [];
for (const file of positionals) {
  const { session, device } = await createSession(file, { executionProvider: values.ep as ExecutionProviderChoice });
  const input = session.inputNames[0] as string;
  for (const n of batches) {
    const data = new Float32Array(n * 3 * 224 * 224).map(() => Math.random() * 2 - 1);
    // The fp16 exports keep a float32 interface, so every model takes float32 here.
    const tensor = new ort.Tensor("float32", data, [n, 3, 224, 224]);
    let t = performance.now();
    await session.run({ [input]: tensor });
    const firstMs = performance.now() - t;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      t = performance.now();
      await session.run({ [input]: tensor });
      times.push(performance.now() - t);
    }
    const s = summarize(times);
    results.push({
      model: basename(file),
      device,
      batch: n,
      firstMs: Number(firstMs.toFixed(1)),
      p50: s.p50,
      p99: s.p99,
    });
    process.stderr.write(`[sweep] ${basename(file)} batch ${n}: first ${firstMs.toFixed(1)} ms, p50 ${s.p50} ms\n`);
  }
  const cycles = Number(values.alternate);
  if (cycles > 0) {
    // Every size has been seen above; if a shape change still costs a search, these runs show it.
    const bySize = new Map<number, number[]>(batches.map((n) => [n, []]));
    for (let c = 0; c < cycles; c++) {
      for (const n of batches) {
        const tensor = new ort.Tensor("float32", new Float32Array(n * 3 * 224 * 224).fill(0.1), [n, 3, 224, 224]);
        const t = performance.now();
        await session.run({ [input]: tensor });
        bySize.get(n)?.push(performance.now() - t);
      }
    }
    for (const [n, times] of bySize) {
      const s = summarize(times);
      results.push({ model: basename(file), device, batch: n, alternating: true, p50: s.p50, max: s.max });
      process.stderr.write(`[sweep] ${basename(file)} batch ${n} alternating: p50 ${s.p50} ms, max ${s.max} ms\n`);
    }
  }
  await session.release();
}
process.stdout.write(
  `${JSON.stringify({ benchmark: "backbone latency by batch size (onnxruntime-node)", results }, null, 2)}\n`,
);
