// The offline demo model: a procedural dataset and a head trained on the fixed demo backbone, both cached on disk
// so the second `npm start` only verifies them.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type FormatMix, generateDataset, type LoadedDataset } from "@roadwork/data";
import { type Manifest, parsePreprocessing, readBundleDir } from "@roadwork/inference";
import {
  buildDemoBackbone,
  DEMO_BACKBONE_DESCRIPTION,
  DEMO_BACKBONE_INPUT,
  DEMO_BACKBONE_OUTPUT,
  DEMO_BACKBONE_PREPROCESSING,
  DEMO_BACKBONE_SIZE,
} from "./demo-backbone.ts";
import type { HeadConfig } from "./head.ts";
import { type TrainStage, trainFromDataset } from "./pipeline.ts";
import type { TrainingReport } from "./report.ts";

export interface DemoOptions {
  /** Where the dataset goes (`<dir>/manifest.json`). */
  datasetDir: string;
  /** Where the bundle goes. */
  bundleDir: string;
  scenes?: number;
  baseSeed?: number;
  viewsPerImage?: number;
  head?: Partial<HeadConfig>;
  /** Validator formats to train and evaluate on (default: the equal jan/apr/may mix). */
  formats?: FormatMix;
  onProgress?: (stage: "generate" | TrainStage, done: number, total: number, detail?: string) => void;
}

export interface DemoModel {
  dataset: LoadedDataset;
  bundleDir: string;
  manifest: Manifest;
  /** Present when the model was trained in this call or its report was found. */
  report?: TrainingReport;
  reused: { dataset: boolean; model: boolean };
}

export const DEMO_SCENES = 2400;
/** Head settings for the demo backbone's ~2k features: a small MLP with strong weight decay. */
export const DEMO_HEAD: Partial<HeadConfig> = { kind: "mlp", hidden: 16, weightDecay: 1, learningRate: 1e-3 };

/** The demo backbone's description for bundle manifests and reports. */
export const demoBackboneInput = () => ({
  model: buildDemoBackbone(),
  inputName: DEMO_BACKBONE_INPUT,
  size: DEMO_BACKBONE_SIZE,
  preprocessing: parsePreprocessing(DEMO_BACKBONE_PREPROCESSING),
  output: DEMO_BACKBONE_OUTPUT,
  token: "none" as const,
  description: DEMO_BACKBONE_DESCRIPTION,
});

/** Generates the dataset and trains the demo bundle unless both are already on disk and consistent. */
export async function ensureDemoModel(options: DemoOptions): Promise<DemoModel> {
  const datasetExisted = await readFile(join(options.datasetDir, "manifest.json")).then(
    () => true,
    () => false,
  );
  const dataset = await generateDataset({
    dir: options.datasetDir,
    count: options.scenes ?? DEMO_SCENES,
    baseSeed: options.baseSeed ?? 1,
    name: "roadwork-demo-procedural",
    onProgress: (d, t) => options.onProgress?.("generate", d, t),
  });
  const existing = await readBundleDir(options.bundleDir).catch(() => undefined);
  const trainedOn = (existing?.manifest.training?.dataset as { id?: string } | undefined)?.id;
  if (existing && trainedOn === dataset.manifest.id) {
    const report = await readFile(join(options.bundleDir, "report.json"), "utf8")
      .then((t) => JSON.parse(t) as TrainingReport)
      .catch(() => undefined);
    return {
      dataset,
      bundleDir: options.bundleDir,
      manifest: existing.manifest,
      ...(report ? { report } : {}),
      reused: { dataset: datasetExisted, model: true },
    };
  }
  const result = await trainFromDataset({
    dataset,
    backbone: demoBackboneInput(),
    out: options.bundleDir,
    name: "roadwork-demo",
    viewsPerImage: options.viewsPerImage ?? 2,
    // Native-size May frames are drawn in the simulator; re-drawing every test scene at 1920×1080 here would add
    // minutes to the first `npm start`, so held-out "may" frames are the stored 320×240 scenes (the default).
    ...(options.formats ? { formats: options.formats } : {}),
    head: { ...DEMO_HEAD, ...options.head },
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  return {
    dataset,
    bundleDir: options.bundleDir,
    manifest: result.manifest,
    report: result.report,
    reused: { dataset: datasetExisted, model: false },
  };
}
