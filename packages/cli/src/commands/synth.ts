// `roadwork synth`: generates a gated, labelled, budgeted batch of synthetic images into a dataset store, with a batch
// report. Bedrock clients read the AWS SDK's standard environment (AWS_REGION, credentials,
// AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_ENDPOINT_URL_BEDROCK), so any Bedrock-compatible endpoint works.
import { defineCommand, UsageError } from "../command.ts";

export const EXIT_BUDGET = 3;

export const command = defineCommand({
  name: "synth",
  summary: "generate synthetic training images (Bedrock, Cosmos NIM or procedural) with quality gates and a budget",
  usage: "--generator <bedrock:<model-id>|cosmos:<url>|procedural> --count <n> --out <dataset dir> [options]",
  description: `Plans validator-like prompts ("Photorealistic dashcam footage …", label 1 adds cones/barriers/workers,
label 0 keeps them out), generates, gates (decode/size, blur, exposure, near-duplicates, teacher agreement), and
commits the accepted images as a new version of the dataset in --out. The cost estimate is printed before any
money is spent; spend is reserved in a ledger before each call, and the run stops at the budget (exit code ${EXIT_BUDGET}).
With --from, images are made image-to-image from that dataset's labelled frames (captions from their
scene_description) and join their source's group. Report: <out>/synth/<batch>/report.html.
Bedrock models: stability.sd3-5-large-v1:0 (t2i + i2i), stability.stable-image-core-v1:1,
stability.stable-image-ultra-v1:1, amazon.nova-canvas-v1:0 (only while ACTIVE). Endpoint and credentials come from
the AWS SDK environment (AWS_REGION, AWS_PROFILE/AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_BEDROCK_RUNTIME,
AWS_ENDPOINT_URL_BEDROCK). A cosmos:<url> endpoint may need ROADWORK_COSMOS_TOKEN (sent as a bearer token).`,
  options: {
    generator: { type: "string", value: "<spec>", help: "bedrock:<model-id>, cosmos:<url> or procedural" },
    count: { type: "string", value: "<n>", default: "8", help: "images to request" },
    out: { type: "string", value: "<dir>", help: "dataset store directory that receives the new version" },
    label: { type: "string", value: "<0|1>", help: "only this label (default: alternate 1, 0 like the validators)" },
    from: {
      type: "string",
      value: "<dir>",
      help: "dataset store with real frames: image-to-image sources, captions, reference",
    },
    strength: { type: "string", value: "<0-1>", default: "0.7", help: "image-to-image strength (validators: 0.7)" },
    "text-only": { type: "boolean", help: "with --from, use its captions for text-to-image instead of i2i" },
    "hard-cases": {
      type: "string",
      value: "<file.json>",
      help: "hard-case clusters [{id, description, label?, weight?}]",
    },
    "budget-usd": { type: "string", value: "<usd>", default: "5", help: "day cap of the ledger (hard stop)" },
    "month-budget-usd": { type: "string", value: "<usd>", default: "50", help: "month cap of the ledger" },
    ledger: { type: "string", value: "<file>", help: "budget ledger file (default <out>/synth-ledger.json)" },
    teacher: {
      type: "string",
      value: "<none|bedrock:<model-id>>",
      default: "none",
      help: "vision teacher that must confirm each label (Converse)",
    },
    backbone: {
      type: "string",
      value: "<demo|model.onnx|none>",
      default: "demo",
      help: "embeddings for duplicates and the batch distance",
    },
    "batch-id": { type: "string", value: "<id>", help: "batch id (request ids derive from it; default synth-<time>)" },
    concurrency: { type: "string", value: "<n>", default: "2", help: "generation calls in flight" },
    "dry-run": { type: "boolean", help: "print the plan and the cost estimate, spend nothing" },
  },
  async run({ values }) {
    if (!values.generator || !values.out) {
      throw new UsageError("--generator and --out are required. Run 'roadwork synth --help'.");
    }
    const int = (name: string, v: string, lo: number, hi: number) => {
      const x = Number(v);
      if (!Number.isInteger(x) || x < lo || x > hi)
        throw new UsageError(`--${name} must be an integer from ${lo} to ${hi}`);
      return x;
    };
    const num = (name: string, v: string, lo: number, hi: number) => {
      const x = Number(v);
      if (!Number.isFinite(x) || x < lo || x > hi)
        throw new UsageError(`--${name} must be a number from ${lo} to ${hi}`);
      return x;
    };
    const count = int("count", values.count, 1, 10_000);
    const label = values.label === undefined ? undefined : (int("label", values.label, 0, 1) as 0 | 1);
    const strength = num("strength", values.strength, 0, 1);
    const concurrency = int("concurrency", values.concurrency, 1, 16);
    const dayUsd = num("budget-usd", values["budget-usd"], 0, 100_000);
    const monthUsd = num("month-budget-usd", values["month-budget-usd"], 0, 1_000_000);
    const { runSynth } = await import("./synth-run.ts");
    return runSynth({
      generator: values.generator,
      count,
      out: values.out,
      ...(label !== undefined ? { label } : {}),
      ...(values.from ? { from: values.from } : {}),
      strength,
      textOnly: values["text-only"] === true,
      ...(values["hard-cases"] ? { hardCases: values["hard-cases"] } : {}),
      caps: { dayUsd, monthUsd },
      ...(values.ledger ? { ledger: values.ledger } : {}),
      backbone: values.backbone,
      teacher: values.teacher,
      batchId: values["batch-id"] ?? `synth-${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "")}`,
      concurrency,
      dryRun: values["dry-run"] === true,
    });
  },
});
