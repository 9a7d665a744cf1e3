// The `roadwork` command as a child process (packages/cli/bin/roadwork.mjs from the repository root), for tests that
// drive the real CLI: exit code, both streams, and a kill after `timeoutMs` so a hung command fails its test.
import { spawn } from "node:child_process";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const ROADWORK_BIN = "packages/cli/bin/roadwork.mjs";

export interface RoadworkRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runRoadwork(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RoadworkRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ROADWORK_BIN, ...args], { cwd: ROOT, env: options.env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 90_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** A sealed environment for a child `roadwork`: PATH and HOME only, plus `env` (nothing of the caller's leaks in). */
export function bareEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env };
}
