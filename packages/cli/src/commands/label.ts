// `roadwork label`: labels a mined batch. First the teacher (a vision-language model on Bedrock, or a larger local
// bundle) labels what it is sure of and agrees with the model on; then a local review page (127.0.0.1) shows a person
// everything else. Teacher labels and human labels each become a new dataset version (docs/labelling.md).
import { defineCommand, UsageError } from "../command.ts";

export const command = defineCommand({
  name: "label",
  summary: "label a mined batch: teacher first, then a local review page for the rest",
  usage: "--data <dataset dir | s3://bucket/prefix> [--teacher bedrock|ensemble|none] [options]",
  description: `The batch is the newest one 'roadwork mine' wrote (or --batch). With --teacher bedrock the model
(--teacher-model) is asked through the Converse API; AWS credentials and region come from the environment, and
AWS_ENDPOINT_URL_BEDROCK_RUNTIME points the client elsewhere. A teacher answer is written (labelSource "teacher")
when its confidence is at least --min-confidence and it agrees with the model; disagreements and abstentions go to
review. The page: r/1 roadwork, n/0 no roadwork, s skip, u/Backspace undo, then "Save & finish" writes the human
labels into the next dataset version and ends the command.`,
  options: {
    data: { type: "string", value: "<dir | s3://…>", help: "dataset store holding the batch" },
    batch: { type: "string", value: "<id>", help: "labelling batch id (default: the newest)" },
    teacher: { type: "string", value: "bedrock|ensemble|none", default: "none", help: "who labels before review" },
    "teacher-model": {
      type: "string",
      value: "<model id>",
      default: "us.anthropic.claude-sonnet-4-20250514-v1:0",
      help: "Bedrock model or inference profile id (vision-capable, Converse)",
    },
    "teacher-bundle": { type: "string", value: "<bundle dir>", help: "larger local bundle for --teacher ensemble" },
    "min-confidence": { type: "string", value: "<p>", default: "0.8", help: "teacher answers below this go to review" },
    port: { type: "string", value: "<n>", default: "0", help: "review page port on 127.0.0.1 (0: any free one)" },
    "no-review": { type: "boolean", default: false, help: "run the teacher only, no review page" },
  },
  async run({ values }) {
    if (!values.data) throw new UsageError("--data is required");
    const minConfidence = Number(values["min-confidence"]);
    if (!(minConfidence >= 0 && minConfidence <= 1)) throw new UsageError("--min-confidence must be from 0 to 1");
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError("--port must be 0..65535");
    if (!["bedrock", "ensemble", "none"].includes(values.teacher)) {
      throw new UsageError("--teacher must be bedrock, ensemble or none");
    }
    if (values.teacher === "ensemble" && !values["teacher-bundle"]) {
      throw new UsageError("--teacher ensemble needs --teacher-bundle <bundle dir>");
    }
    const data = await import("@roadwork/data");
    const { openDatasetStore } = await import("../dataset-location.ts");
    const store = await openDatasetStore(values.data);
    let batch = values.batch ? await data.loadBatch(store, values.batch) : await data.latestBatch(store);
    if (!batch)
      throw new Error(`no labelling batch in ${store.location}; run 'roadwork mine --data ${values.data}' first`);

    if (values.teacher !== "none") {
      const { teacher, close } = await openTeacher(values.teacher, values["teacher-model"], values["teacher-bundle"]);
      try {
        const { ProgressBar } = await import("@roadwork/training");
        const bar = new ProgressBar(process.stderr);
        const taught = await data.teachBatch(batch, teacher, (item) => store.getImage(item.sha256), {
          minConfidence,
          onProgress: (done, total) => bar.update("teacher", done, total),
        });
        bar.done();
        batch = taught.batch;
        await data.saveBatch(store, batch);
        let versionNote = "no labels to write";
        if (taught.labels.length > 0) {
          const derived = await store.update({
            note: `teacher ${teacher.name} on labelling batch ${batch.id}: ${taught.labels.length} labels`,
            labels: taught.labels,
          });
          versionNote = `version ${derived.version.id}`;
        }
        const c = taught.counts;
        const reasons = Object.entries(c.byReason)
          .map(([k, n]) => `${k} ${n}`)
          .join(", ");
        console.log(
          `teacher ${teacher.name}: ${c.labelled} labelled, ${c.abstained} abstained${reasons ? ` (${reasons}${c.unsure ? `, unsure ${c.unsure}` : ""})` : c.unsure ? ` (unsure ${c.unsure})` : ""}, ${c.disagreed} disagreed → ${versionNote}`,
        );
      } finally {
        await close();
      }
    }
    if (values["no-review"]) return 0;

    const queue = data.reviewQueue(batch);
    if (queue.length === 0) {
      console.log(`nothing to review in batch ${batch.id}: the teacher labelled every case`);
      return 0;
    }
    const { createAdaptorServer } = await import("@hono/node-server");
    let finish: (r: import("@roadwork/data").ReviewResult | undefined) => void = () => {};
    const finished = new Promise<import("@roadwork/data").ReviewResult | undefined>((resolve) => {
      finish = resolve;
    });
    const review = data.createReviewApp({ store, batch, queue, onSaved: (r) => finish(r) });
    const server = createAdaptorServer({ fetch: review.app.fetch });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e: Error) => reject(new Error(`cannot listen on 127.0.0.1:${port}: ${e.message}`)));
      server.listen(port, "127.0.0.1", () => resolve());
    });
    const address = server.address() as import("node:net").AddressInfo;
    console.log(
      `review: http://127.0.0.1:${address.port}/ — ${queue.length} cases of batch ${batch.id} (r/1 roadwork, n/0 no roadwork, s skip, u undo; Save & finish ends)`,
    );
    const onSignal = () => finish(undefined);
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const result = await finished;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    // Let the page receive the save's answer before the server goes.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as import("node:http").Server).closeAllConnections?.();
    });
    if (!result) {
      console.log("review stopped without saving; no labels written");
      return 1;
    }
    console.log(
      `saved version ${result.versionId}: ${result.written} human labels (${result.skipped} skipped, ${result.rejected} rejected)`,
    );
    return 0;
  },
});

async function openTeacher(
  kind: string,
  modelId: string,
  bundle: string | undefined,
): Promise<{ teacher: import("@roadwork/data").Teacher; close(): Promise<void> }> {
  const data = await import("@roadwork/data");
  if (kind === "bedrock") {
    // Composition root: region and credentials from the environment. The teacher retries throttling itself.
    const { BedrockRuntimeClient } = await import("@aws-sdk/client-bedrock-runtime");
    const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    if (!region) throw new Error("--teacher bedrock needs AWS_REGION (the region where the model is enabled)");
    const client = new BedrockRuntimeClient({ region, maxAttempts: 1 });
    return { teacher: new data.BedrockTeacher({ client, modelId }), close: async () => client.destroy() };
  }
  const { loadScorer, silentLogger } = await import("@roadwork/inference");
  const scorer = await loadScorer({ model: bundle!, executionProvider: "cpu", logger: silentLogger });
  return { teacher: new data.EnsembleTeacher(scorer), close: () => scorer.close() };
}
