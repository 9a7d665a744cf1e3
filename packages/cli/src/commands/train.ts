// `roadwork train`: trains a head on frozen backbone embeddings of a dataset (validator-augmented views) and writes
// a model bundle with its report. `--backbone demo` uses the built-in fixed demo backbone (offline).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type BackboneInput,
  demoBackboneInput,
  describeBackbone,
  ProgressBar,
  trainFromDataset,
} from "@roadwork/training";
import type { Command } from "../command.ts";

export const command: Command = {
  summary: "train a roadwork head on backbone embeddings and write a model bundle + report",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        data: { type: "string" },
        backbone: { type: "string", default: "demo" },
        out: { type: "string" },
        head: { type: "string", default: "mlp" },
        hidden: { type: "string", default: "64" },
        epochs: { type: "string", default: "120" },
        views: { type: "string", default: "2" },
        "backbone-output": { type: "string" },
        token: { type: "string", default: "none" },
        preprocessing: { type: "string" },
        name: { type: "string" },
        version: { type: "string" },
        seed: { type: "string", default: "1" },
      },
      strict: true,
    });
    if (!values.data || !values.out) {
      throw new Error(
        "usage: roadwork train --data <dataset manifest.json> --backbone <model.onnx|demo> --out <bundle dir>",
      );
    }
    if (values.head !== "mlp" && values.head !== "logistic") throw new Error("--head must be 'mlp' or 'logistic'");
    if (values.token !== "none" && values.token !== "cls") throw new Error("--token must be 'none' or 'cls'");
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
};
