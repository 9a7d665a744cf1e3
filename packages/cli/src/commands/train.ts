// `roadwork train`: trains a head on frozen backbone embeddings of a dataset (validator-augmented views) and writes
// a model bundle with its report. `--backbone demo` uses the built-in fixed demo backbone (offline).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { BackboneInput } from "@roadwork/training";
import { defineCommand, UsageError } from "../command.ts";

export const command = defineCommand({
  name: "train",
  summary: "train a roadwork head on backbone embeddings and write a model bundle + report",
  usage: "--data <dataset manifest.json> --out <bundle dir> [--backbone <model.onnx|demo>] [options]",
  description: "The bundle holds the backbone, the head, manifest.json and report.html/report.json.",
  options: {
    data: { type: "string", value: "<manifest.json>", help: "dataset manifest" },
    out: { type: "string", value: "<dir>", help: "bundle folder to write" },
    backbone: {
      type: "string",
      value: "<model.onnx|demo>",
      default: "demo",
      help: "frozen backbone (demo: offline, fixed)",
    },
    head: { type: "string", value: "mlp|logistic", default: "mlp", help: "head kind" },
    hidden: { type: "string", value: "<n>", default: "64", help: "MLP hidden units" },
    epochs: { type: "string", value: "<n>", default: "120", help: "training epochs" },
    views: { type: "string", value: "<n>", default: "2", help: "validator-augmented views per image" },
    "backbone-output": { type: "string", value: "<name>", help: "backbone output to embed from" },
    token: { type: "string", value: "none|cls", default: "none", help: "pool the output, or take the CLS token" },
    preprocessing: { type: "string", value: "<file.json>", help: "backbone preprocessing (size, mean, std)" },
    name: { type: "string", value: "<name>", help: "bundle name" },
    version: { type: "string", value: "<X.Y.Z>", help: "bundle version" },
    seed: { type: "string", value: "<n>", default: "1", help: "random seed" },
  },
  async run({ values }) {
    if (!values.data || !values.out) throw new UsageError("--data and --out are required");
    const { demoBackboneInput, describeBackbone, ProgressBar, trainFromDataset } = await import("@roadwork/training");
    if (values.head !== "mlp" && values.head !== "logistic") throw new UsageError("--head must be 'mlp' or 'logistic'");
    if (values.token !== "none" && values.token !== "cls") throw new UsageError("--token must be 'none' or 'cls'");
    const int = (name: string, v: string, lo: number, hi: number): number => {
      const x = Number(v);
      if (!Number.isInteger(x) || x < lo || x > hi) throw new Error(`--${name} must be an integer from ${lo} to ${hi}`);
      return x;
    };
    let backbone: BackboneInput;
    if (values.backbone === "demo") backbone = demoBackboneInput();
    else {
      const preprocessing = values.preprocessing ? JSON.parse(await readFile(values.preprocessing, "utf8")) : undefined;
      backbone = await describeBackbone(values.backbone, {
        ...(values["backbone-output"] ? { output: values["backbone-output"] } : {}),
        token: values.token,
        ...(preprocessing ? { preprocessing } : {}),
      });
    }
    const bar = new ProgressBar(process.stderr);
    const result = await trainFromDataset({
      dataset: values.data,
      backbone,
      out: values.out,
      viewsPerImage: int("views", values.views, 1, 16),
      seed: int("seed", values.seed, 0, 2 ** 31),
      head: {
        kind: values.head,
        hidden: int("hidden", values.hidden, 1, 4096),
        epochs: int("epochs", values.epochs, 1, 10_000),
      },
      ...(values.name ? { name: values.name } : {}),
      ...(values.version ? { version: values.version } : {}),
      onProgress: (stage, done, total, detail) => bar.update(stage, done, total, detail),
    });
    bar.done();
    const t = result.report.test;
    console.log(
      `bundle ${result.manifest.name}@${result.manifest.version} in ${result.bundleDir}: threshold ${result.report.threshold.value.toFixed(4)} → 0.5; held-out MCC ${t.mcc.toFixed(3)}, accuracy ${t.accuracy.toFixed(3)}, ROC-AUC ${t.rocAuc.toFixed(3)}; report ${join(result.bundleDir, "report.html")}`,
    );
    return 0;
  },
});
