// The `roadwork` command table: name, one-line summary, and the module to load. The summaries live here so that
// `roadwork help` answers without importing any command (a test checks they match each command's own summary).
// Adding a command: one line here, and ./commands/<name>.ts exporting `command = defineCommand({...})`.
import type { Command } from "./command.ts";

interface Entry {
  summary: string;
  load: () => Promise<{ command: Command }>;
}

export const commands: Record<string, Entry> = {
  start: {
    summary: "run the miner locally: demo model, axon on 127.0.0.1, simulated validators, live scoreboard",
    load: () => import("./commands/start.ts"),
  },
  serve: {
    summary: "run the axon on a local model and a metagraph snapshot file",
    load: () => import("./commands/serve.ts"),
  },
  snapshot: {
    summary: "write a metagraph snapshot file, from the chain or a local one with its keys",
    load: () => import("./commands/snapshot.ts"),
  },
  query: {
    summary: "send one signed ImageSynapse request to an axon and print the answer",
    load: () => import("./commands/query.ts"),
  },
  predict: {
    summary: "score image files with a model bundle or .onnx file",
    load: () => import("./commands/predict.ts"),
  },
  simulate: {
    summary: "send signed validator challenges to an axon and score the answers",
    load: () => import("./commands/simulate.ts"),
  },
  dataset: {
    summary: "import, list and inspect datasets (Hugging Face parquet, folders, captures)",
    load: () => import("./commands/dataset.ts"),
  },
  mine: {
    summary: "pick a labelling batch of hard cases from captured images (uncertainty × diversity)",
    load: () => import("./commands/mine.ts"),
  },
  label: {
    summary: "label a mined batch: teacher first, then a local review page for the rest",
    load: () => import("./commands/label.ts"),
  },
  train: {
    summary: "train a roadwork head on backbone embeddings and write a model bundle + report",
    load: () => import("./commands/train.ts"),
  },
  publish: {
    summary: "publish a model bundle to Hugging Face with the NATIX model card",
    load: () => import("./commands/publish.ts"),
  },
  register: {
    summary: "register a published model with NATIX and wait for the result",
    load: () => import("./commands/register.ts"),
  },
  decay: { summary: "show the reward decay status of the submitted model", load: () => import("./commands/decay.ts") },
  status: {
    summary: "show this miner's standing on chain and whether the subnet pays (paying/burning/silent)",
    load: () => import("./commands/status.ts"),
  },
  synth: {
    summary: "generate synthetic training images (Bedrock, Cosmos NIM or procedural) with quality gates and a budget",
    load: () => import("./commands/synth.ts"),
  },
  resume: {
    summary: "bring back an axon host the subnet watch paused (scale the host and the service to one)",
    load: () => import("./commands/resume.ts"),
  },
  pipeline: {
    summary: "the retraining pipeline: print its state machine, run it locally or start it on AWS",
    load: () => import("./commands/pipeline.ts"),
  },
  model: {
    summary: "show or roll back the promoted model pointer (models/current.json)",
    load: () => import("./commands/model.ts"),
  },
  "serve-axon": {
    summary: "announce the axon's address on chain (serve_axon); --dry-run shows the call",
    load: () => import("./commands/serve-axon.ts"),
  },
};

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? rest[0] : undefined;
    if (topic && commands[topic]) {
      console.log((await commands[topic].load()).command.help());
      return 0;
    }
    printHelp();
    return name && !topic ? 0 : topic ? 2 : 1;
  }
  const entry = commands[name];
  if (!entry) {
    console.error(`roadwork: unknown command '${name}'. Run 'roadwork help' for the list.`);
    return 2;
  }
  const { command } = await entry.load();
  try {
    return (await command.run(rest)) ?? 0;
  } catch (error) {
    console.error(`roadwork ${name}: ${(error as Error).message}`);
    return (error as Error).name === "UsageError" ? 2 : 1;
  }
}

/** The command list `roadwork help` prints (bin/roadwork.mjs renders the same text without loading TypeScript). */
export function commandListText(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length)) + 2;
  const lines = Object.entries(commands).map(([name, e]) => `  ${name.padEnd(width)} ${e.summary}`);
  return (
    `usage: roadwork <command> [options]\n\ncommands:\n${lines.join("\n")}\n\n` +
    "'roadwork <command> --help' (or 'roadwork help <command>') lists a command's options."
  );
}

function printHelp(): void {
  console.log(commandListText());
}
