// `roadwork mine`: picks a labelling batch of hard cases from the unlabelled (captured) images of a dataset store:
// uncertainty under the serving model × diversity of backbone embeddings (docs/labelling.md). The batch is written
// beside the dataset (labelling/<id>.json) for `roadwork label`.
import { defineCommand, UsageError } from "../command.ts";

export const command = defineCommand({
  name: "mine",
  summary: "pick a labelling batch of hard cases from captured images (uncertainty × diversity)",
  usage: "--data <dataset dir | s3://bucket/prefix> --model <bundle dir> --budget <n> [options]",
  description: `Candidates are the unlabelled images of the store's latest version (captured ones unless --all); bring
captures in first with 'roadwork dataset import <data dir> --out <data dir>'. Each is scored by the bundle (every
ensemble member and TTA view on its own too) and embedded by its backbone; the batch is the most uncertain first,
then weighted k-center greedy (Sener & Savarese 2018) for diversity. 'roadwork label --data <dir>' labels it.`,
  options: {
    data: { type: "string", value: "<dir | s3://…>", help: "dataset store holding the captures" },
    model: { type: "string", value: "<bundle dir>", help: "model bundle that scores and embeds the candidates" },
    budget: { type: "string", value: "<n>", help: "how many cases to pick" },
    threshold: { type: "string", value: "<p>", default: "0.5", help: "score where the answer flips" },
    "diversity-floor": {
      type: "string",
      value: "<w>",
      default: "0.1",
      help: "weight added to every case's uncertainty (0: pure uncertainty, large: plain k-center)",
    },
    all: { type: "boolean", default: false, help: "mine every unlabelled image, not only captured ones" },
    "labelled-sample": {
      type: "string",
      value: "<n>",
      default: "256",
      help: "labelled images embedded as already-covered ground, so the batch avoids what is labelled (0: none)",
    },
  },
  async run({ values }) {
    if (!values.data) throw new UsageError("--data is required");
    if (!values.model) throw new UsageError("--model is required (the bundle to score with, e.g. .roadwork/model)");
    const budget = Number(values.budget);
    if (!Number.isInteger(budget) || budget < 1) throw new UsageError("--budget must be a positive integer");
    const threshold = Number(values.threshold);
    const floor = Number(values["diversity-floor"]);
    if (!(threshold > 0 && threshold < 1)) throw new UsageError("--threshold must be between 0 and 1");
    if (!(floor >= 0)) throw new UsageError("--diversity-floor must be 0 or more");
    const labelledSample = Number(values["labelled-sample"]);
    if (!Number.isInteger(labelledSample) || labelledSample < 0)
      throw new UsageError("--labelled-sample must be 0 or a positive integer");

    const data = await import("@roadwork/data");
    const { openDatasetStore } = await import("../dataset-location.ts");
    const store = await openDatasetStore(values.data);
    const version = await store.latestVersion();
    if (!version) {
      throw new Error(
        `no dataset version in ${store.location}; import captures first: roadwork dataset import ${values.data} --out ${values.data}`,
      );
    }
    const { mineLabellingBatch } = await import("@roadwork/pipeline/mining");
    const { ProgressBar } = await import("@roadwork/training");
    const bar = new ProgressBar(process.stderr);
    let run: Awaited<ReturnType<typeof mineLabellingBatch>>;
    try {
      run = await mineLabellingBatch({
        store,
        version,
        bundleDir: values.model,
        budget,
        threshold,
        diversityFloor: floor,
        labelledSample,
        all: values.all,
        onProgress: (stage, done, total) => bar.update(stage, done, total),
        onSkip: (sha, message) => process.stderr.write(`skipping ${sha.slice(0, 12)}: ${message}\n`),
      });
    } finally {
      bar.done();
    }
    if (!run.batch) {
      console.log(
        `nothing to mine: version ${version.id.slice(0, 12)} has no unlabelled ${values.all ? "" : "captured "}images`,
      );
      return 0;
    }
    console.log(
      `mined batch ${run.batch.id}: ${run.batch.items.length} cases of ${run.candidates} unlabelled (${run.unreadable} unreadable), ${run.covered} labelled as covered ground, mean uncertainty ${run.meanUncertainty.toFixed(3)}, model ${run.modelVersion} → ${store.where(data.batchKey(run.batch.id))}`,
    );
    return 0;
  },
});
