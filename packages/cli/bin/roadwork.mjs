#!/usr/bin/env node
// Entry of the `roadwork` command: the sources are TypeScript, loaded through tsx without a build step.
// `roadwork help` takes a fast path: registering tsx costs more than the whole answer, so the command list is read
// from the table in src/commands.ts as text (a test checks it prints exactly what the table renders).
import { readFileSync } from "node:fs";

const [first, second] = process.argv.slice(2);
if (first === "--help" || first === "-h" || (first === "help" && second === undefined)) {
  const source = readFileSync(new URL("../src/commands.ts", import.meta.url), "utf8");
  const entries = [...source.matchAll(/^ {2}"?([a-z][\w-]*)"?: \{\s*summary:\s*"((?:[^"\\]|\\.)*)",/gm)].map((m) => [
    m[1],
    JSON.parse(`"${m[2]}"`),
  ]);
  if (entries.length > 0) {
    const width = Math.max(...entries.map(([n]) => n.length)) + 2;
    const lines = entries.map(([name, summary]) => `  ${name.padEnd(width)} ${summary}`);
    console.log(
      `usage: roadwork <command> [options]\n\ncommands:\n${lines.join("\n")}\n\n` +
        "'roadwork <command> --help' (or 'roadwork help <command>') lists a command's options.",
    );
    process.exit(0);
  }
}
const { register } = await import("tsx/esm/api");
register();
await import("../src/main.ts");
