// `roadwork train`: trains a head on frozen backbone embeddings of a dataset (views in each validator format) and
// writes a model bundle with its report. Backbones: `demo` (the built-in fixed demo backbone, offline), an ONNX
// file, a scripts/export-backbone.py directory, or hf://org/name[@revision] (an ONNX export on Hugging Face).
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { BackboneInput } from "@roadwork/training";
import { defineCommand, UsageError } from "../command.ts";

const POOLINGS = ["auto", "pooler", "none", "cls", "mean", "cls+mean"] as const;
type PoolingChoice = (typeof POOLINGS)[number];

export const command = defineCommand({
  name: "train",
  summary: "train a roadwork head on backbone embeddings and write a model bundle + report",
  usage:
    "--data <dataset> --out <bundle dir> [--backbone demo|hf://org/name[@rev]|<export dir>|<model.onnx>] [options]",
  description: `The bundle holds the backbone, the head, manifest.json and report.html/report.json. Training and
held-out test views are made in each validator format (jan: augmented 224 crops, apr: letterbox, may: native frames);
held-out MCC and accuracy are printed per format. hf:// backbones are ONNX exports in the onnx-community layout
(onnx/model*.onnx, preprocessor_config.json, config.json), downloaded through HF_ENDPOINT with HF_TOKEN, checked
against the Hub's checksums and cached (ROADWORK_MODEL_CACHE, default ~/.cache/roadwork/models).`,
  options: {
    data: { type: "string", value: "<dataset>", help: "dataset (manifest.json or dataset directory)" },
    out: { type: "string", value: "<dir>", help: "bundle folder to write" },
    backbone: {
      type: "string",
      value: "<demo|hf://org/name[@rev]|dir|model.onnx>",
      default: "demo",
      help: "frozen backbone (demo: offline, fixed; dir: written by scripts/export-backbone.py)",
    },
    variant: {
      type: "string",
      value: "<name|path.onnx>",
      help: "hf:// ONNX file: model (default), fp16, quantized, int8, uint8, q4, q4f16, bnb4, or a path",
    },
    pooling: {
      type: "string",
      value: POOLINGS.join("|"),
      help: "token pooling (auto: CLS+mean patch token of last_hidden_state, else pooler_output)",
    },
    token: { type: "string", value: "none|cls", help: "older name of --pooling" },
    "cache-dir": { type: "string", value: "<dir>", help: "download cache for hf:// backbones" },
    formats: {
      type: "string",
      value: "<jan,apr,may>",
      default: "jan,apr,may",
      help: "validator formats to train and evaluate on, optionally weighted (jan:1,may:2)",
    },
    "stored-native": {
      type: "boolean",
      default: false,
      help: "evaluate 'may' on stored frames instead of re-drawn 1920x1080/1024x1024 ones (quicker)",
    },
    head: { type: "string", value: "mlp|logistic", default: "mlp", help: "head kind" },
    hidden: { type: "string", value: "<n>", default: "64", help: "MLP hidden units" },
    epochs: { type: "string", value: "<n>", default: "120", help: "training epochs" },
    views: { type: "string", value: "<n>", default: "2", help: "validator-format views per training image" },
    "backbone-output": { type: "string", value: "<name>", help: "ONNX file backbones: output to embed from" },
    preprocessing: { type: "string", value: "<file.json>", help: "ONNX file backbones: preprocessor_config.json" },
    name: { type: "string", value: "<name>", help: "bundle name" },
    version: { type: "string", value: "<X.Y.Z>", help: "bundle version" },
    seed: { type: "string", value: "<n>", default: "1", help: "random seed" },
  },
  async run({ values }) {
    if (!values.data || !values.out) throw new UsageError("--data and --out are required");
    const { parseFormatMix } = await import("@roadwork/data");
    const {
      demoBackboneInput,
      describeBackbone,
      describeExportedBackbone,
      fetchHubBackbone,
      ProgressBar,
      trainFromDataset,
    } = await import("@roadwork/training");
    if (values.head !== "mlp" && values.head !== "logistic") throw new UsageError("--head must be 'mlp' or 'logistic'");
    const pooling = (values.pooling ?? values.token) as PoolingChoice | undefined;
    if (pooling !== undefined && !POOLINGS.includes(pooling))
      throw new UsageError(`--pooling must be one of ${POOLINGS.join(", ")}`);
    let formats: ReturnType<typeof parseFormatMix>;
    try {
      formats = parseFormatMix(values.formats);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const int = (name: string, v: string, lo: number, hi: number): number => {
      const x = Number(v);
      if (!Number.isInteger(x) || x < lo || x > hi)
        throw new UsageError(`--${name} must be an integer from ${lo} to ${hi}`);
      return x;
    };
    const bar = new ProgressBar(process.stderr);
    const source = values.backbone;
    let backbone: BackboneInput;
    if (source === "demo") backbone = demoBackboneInput();
    else if (source.startsWith("hf://")) {
      const hub = await fetchHubBackbone({
        source,
        ...(values.variant ? { variant: values.variant } : {}),
        ...(pooling ? { pooling } : {}),
        ...(values["cache-dir"] ? { cacheDir: values["cache-dir"] } : {}),
        onProgress: (file, done, total) =>
          bar.update("download", Math.ceil(done / 1024), Math.ceil(total / 1024), `KiB ${file}`),
      });
      bar.done();
      console.log(
        `backbone ${hub.repo}@${hub.commit.slice(0, 12)} ${hub.file} (${(hub.bytes / 2 ** 20).toFixed(1)} MiB, sha256 ${hub.sha256.slice(0, 16)}…, verified): input ${hub.inputName} ${hub.inputType} ${hub.size}×${hub.size}, ${hub.output} → ${hub.token}${(hub.prefixTokens ?? 1) > 1 ? ` (skipping ${(hub.prefixTokens ?? 1) - 1} register tokens)` : ""}`,
      );
      backbone = hub;
    } else if (values.variant) {
      throw new UsageError("--variant only applies to hf:// backbones");
    } else if (
      await stat(source).then(
        (s) => s.isDirectory(),
        () => false,
      )
    ) {
      backbone = await describeExportedBackbone(source);
    } else {
      if (pooling === "auto" || pooling === "pooler")
        throw new UsageError("--pooling auto/pooler apply to hf:// backbones; give --backbone-output and a pooling");
      const preprocessing = values.preprocessing ? JSON.parse(await readFile(values.preprocessing, "utf8")) : undefined;
      backbone = await describeBackbone(source, {
        ...(values["backbone-output"] ? { output: values["backbone-output"] } : {}),
        token: pooling ?? "none",
        ...(preprocessing ? { preprocessing } : {}),
      });
    }
    const result = await trainFromDataset({
      dataset: values.data,
      backbone,
      out: values.out,
      viewsPerImage: int("views", values.views, 1, 16),
      formats,
      nativeTestFrames: !values["stored-native"],
      seed: int("seed", values.seed, 0, 2 ** 31),
      head: {
        kind: values.head,
        hidden: int("hidden", values.hidden, 1, 4096),
        epochs: int("epochs", values.epochs, 1, 10_000),
      },
      // A bundle trained on another backbone is not the demo model: name it after the backbone unless told.
      ...(values.name
        ? { name: values.name }
        : source !== "demo"
          ? {
              name: `roadwork-${(source.replace(/@.*$/, "").split(/[\\/]/).filter(Boolean).pop() ?? "model").replace(/\.onnx$/i, "").replace(/[^A-Za-z0-9._-]/g, "-")}`,
            }
          : {}),
      ...(values.version ? { version: values.version } : {}),
      onProgress: (stage, done, total, detail) => bar.update(stage, done, total, detail),
    });
    bar.done();
    const t = result.report.test;
    console.log(
      `bundle ${result.manifest.name}@${result.manifest.version} in ${result.bundleDir}: threshold ${result.report.threshold.value.toFixed(4)} → 0.5; held-out MCC ${t.mcc.toFixed(3)}, accuracy ${t.accuracy.toFixed(3)}, ROC-AUC ${t.rocAuc.toFixed(3)}; report ${join(result.bundleDir, "report.html")}`,
    );
    for (const line of formatLines(result.report)) console.log(line);
    return 0;
  },
});

/** "held-out by validator format: jan MCC 0.912 acc 0.956 (n=360) · …" */
export function formatLines(report: {
  testByFormat?: Record<string, { mcc: number; accuracy: number; count: number }>;
}): string[] {
  const order = ["jan", "apr", "may"];
  const entries = Object.entries(report.testByFormat ?? {}).sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
  if (entries.length === 0) return [];
  return [
    `held-out by validator format: ${entries.map(([f, m]) => `${f} MCC ${m.mcc.toFixed(3)} acc ${m.accuracy.toFixed(3)} (n=${m.count})`).join(" · ")}`,
  ];
}
