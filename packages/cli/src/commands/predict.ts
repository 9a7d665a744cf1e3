// `roadwork predict`: score image files with a model bundle (or a bare .onnx) exactly as the axon would.
import { readFile } from "node:fs/promises";
import type { LoadOptions } from "@roadwork/inference";
import { defineCommand, UsageError } from "../command.ts";

interface Row {
  image: string;
  score?: number;
  label?: "roadwork" | "no roadwork";
  cached?: boolean;
  timings?: { decodeMs: number; preprocessMs: number; inferenceMs: number; totalMs: number };
  error?: string;
  reason?: string;
}

export const command = defineCommand({
  name: "predict",
  summary: "score image files with a model bundle or .onnx file",
  usage: "<image...> --model <source> [options]",
  description: `<source> is a bundle directory, a manifest.json, an .onnx file, s3://bucket/prefix, hf://org/name[@revision], or a
pointer .json naming one of those (ROADWORK_MODEL is used when --model is absent). HF_TOKEN and HF_ENDPOINT are
honoured for hf:// sources, the usual AWS environment for s3:// sources. Scores are calibrated probabilities of
roadwork; validators round them at 0.5, so the label is "roadwork" above 0.5.`,
  options: {
    model: {
      type: "string",
      short: "m",
      value: "<source>",
      help: "model bundle, .onnx, s3://, hf:// or pointer (else $ROADWORK_MODEL)",
    },
    json: { type: "boolean", help: "print JSON" },
    ep: { type: "string", value: "auto|cpu|cuda", default: "auto", help: "execution provider" },
    threads: { type: "string", value: "<n>", help: "intra-op threads (0 = onnxruntime's choice)" },
    "output-kind": { type: "string", value: "sigmoid|logit", help: "override the model's output kind" },
  },
  positionals: true,
  async run({ values, positionals }) {
    const model = values.model ?? process.env.ROADWORK_MODEL;
    if (!model) throw new UsageError("give --model (or set ROADWORK_MODEL)");
    if (positionals.length === 0) throw new UsageError("give at least one image file");
    const ep = values.ep;
    if (ep !== "auto" && ep !== "cpu" && ep !== "cuda") throw new Error(`--ep must be auto, cpu or cuda, not '${ep}'`);
    const threads = values.threads === undefined ? undefined : Number(values.threads);
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0))
      throw new Error("--threads must be a whole number ≥ 0");
    const outputKind = values["output-kind"];
    if (outputKind !== undefined && outputKind !== "sigmoid" && outputKind !== "logit") {
      throw new Error("--output-kind must be sigmoid or logit");
    }

    const options: LoadOptions = {
      model,
      executionProvider: ep,
      cacheSize: 0,
      logger: { info: () => {}, warn: (m, d) => console.error(m, d ? JSON.stringify(d) : "") },
      ...(threads !== undefined ? { intraOpNumThreads: threads } : {}),
      ...(outputKind ? { outputKind } : {}),
      ...(process.env.HF_TOKEN ? { hfToken: process.env.HF_TOKEN } : {}),
    };
    if (model.startsWith("s3://")) {
      // The CLI is a composition root: it may create the client the library is handed.
      const { S3Client } = await import("@aws-sdk/client-s3");
      options.s3 = new S3Client({});
    }
    const { ImageInputError, loadScorer } = await import("@roadwork/inference");
    const started = performance.now();
    const scorer = await loadScorer(options);
    const loadMs = performance.now() - started;
    const rows: Row[] = [];
    try {
      for (const image of positionals) {
        const t0 = performance.now();
        try {
          const r = await scorer.score(await readFile(image));
          const t = r.timings ?? { decodeMs: 0, preprocessMs: 0, inferenceMs: 0 };
          rows.push({
            image,
            score: r.score,
            label: r.score > 0.5 ? "roadwork" : "no roadwork",
            cached: r.cached,
            timings: { ...t, totalMs: performance.now() - t0 },
          });
        } catch (error) {
          const reason = error instanceof ImageInputError ? error.reason : undefined;
          rows.push({ image, error: (error as Error).message, ...(reason ? { reason } : {}) });
        }
      }
    } finally {
      await scorer.close();
    }

    const info = {
      model: scorer.modelVersion,
      device: scorer.device,
      ...(scorer.fallbackReason ? { fallbackReason: scorer.fallbackReason } : {}),
      members: scorer.manifest.members.length,
      tta: scorer.manifest.tta,
      loadMs: Math.round(loadMs),
    };
    if (values.json) {
      console.log(JSON.stringify({ ...info, results: rows }, null, 2));
    } else {
      console.log(
        `model ${info.model} on ${info.device} (${info.members} member(s), tta ${info.tta.join("+")}, loaded in ${info.loadMs} ms)`,
      );
      const width = Math.max(5, ...rows.map((r) => r.image.length));
      console.log(`${"image".padEnd(width)}  score     label        decode  prep    infer   total`);
      const ms = (v: number) => `${v.toFixed(1)}ms`.padEnd(8);
      for (const r of rows) {
        if (r.error !== undefined) console.log(`${r.image.padEnd(width)}  error: ${r.error}`);
        else if (r.timings && r.score !== undefined && r.label) {
          console.log(
            `${r.image.padEnd(width)}  ${r.score.toFixed(6)}  ${r.label.padEnd(11)}  ${ms(r.timings.decodeMs)}${ms(r.timings.preprocessMs)}${ms(r.timings.inferenceMs)}${ms(r.timings.totalMs)}`,
          );
        }
      }
    }
    return rows.some((r) => r.error !== undefined) ? 1 : 0;
  },
});
