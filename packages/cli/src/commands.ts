// The `roadwork` command table. Each sub-command lives in ./commands/<name>.ts and exports `command`.
import type { Command } from "./command.ts";

type Loader = () => Promise<{ command: Command }>;

// Lazy imports: `roadwork query` must not pay for loading onnxruntime or @polkadot/api.
const table: Record<string, Loader> = {
  serve: () => import("./commands/serve.ts"),
  query: () => import("./commands/query.ts"),
  predict: () => import("./commands/predict.ts"),
  publish: () => import("./commands/publish.ts"),
  register: () => import("./commands/register.ts"),
  decay: () => import("./commands/decay.ts"),
  status: () => import("./commands/status.ts"),
  "serve-axon": () => import("./commands/serve-axon.ts"),
  start: () => import("./commands/start.ts"),
  train: () => import("./commands/train.ts"),
  simulate: () => import("./commands/simulate.ts"),
};

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    await printHelp();
    return name ? 0 : 1;
  }
  const load = table[name];
  if (!load) {
    console.error(`roadwork: unknown command '${name}'. Run 'roadwork help' for the list.`);
    return 2;
  }
  const { command } = await load();
  try {
    return (await command.run(rest)) ?? 0;
  } catch (error) {
    console.error(`roadwork ${name}: ${(error as Error).message}`);
    return 1;
  }
}

async function printHelp(): Promise<void> {
  console.log("usage: roadwork <command> [options]\n\ncommands:");
  for (const [name, load] of Object.entries(table)) {
    const { command } = await load();
    console.log(`  ${name.padEnd(12)} ${command.summary}`);
  }
}
