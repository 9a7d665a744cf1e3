// The axon container's process settings, as bench:flood and bench:axon start `roadwork serve` with them: glibc's malloc
// tunables make a full-resolution frame's buffers reuse freed pages instead of faulting in new ones for every body.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { AXON_GLIBC_TUNABLES } from "../../bench/lib/servers.ts";

const DOCKERFILE = new URL("../../containers/axon/Dockerfile", import.meta.url);

test("both runtime targets of the axon container set the malloc tunables and the old-space flag the benchmarks use", () => {
  const stages = readFileSync(DOCKERFILE, "utf8").split(/^FROM /m);
  for (const target of ["cpu", "gpu"]) {
    const stage = stages.find((s) => new RegExp(`^\\S+ AS ${target}\\n`).test(s));
    assert.ok(stage, `target ${target}`);
    assert.ok(stage.includes(`GLIBC_TUNABLES=${AXON_GLIBC_TUNABLES}`), `${target}: GLIBC_TUNABLES`);
    assert.match(stage, /CMD \["node", "--initial-old-space-size=256",/);
  }
});

/**
 * Minor page faults over 10 rounds (after 2 of warm-up) of six 6 MB buffers allocated and written together, then
 * collected: the pattern of full-resolution frames whose bodies V8 frees in batches.
 */
function faultsAfterWarmUp(env: NodeJS.ProcessEnv): number {
  const script = `
    const faults = () => process.resourceUsage().minorPageFault;
    (async () => {
      let after = 0;
      for (let round = 0; round < 12; round++) {
        if (round === 2) after = faults();
        let live = [];
        for (let k = 0; k < 6; k++) {
          const b = Buffer.allocUnsafe(6_000_000);
          for (let at = 0; at < b.length; at += 4096) b[at] = 1;
          live.push(b);
        }
        live = undefined;
        globalThis.gc();
        await new Promise((r) => setTimeout(r, 20));
      }
      console.log(faults() - after);
    })();`;
  return Number(execFileSync(process.execPath, ["--expose-gc", "-e", script], { env, encoding: "utf8" }).trim());
}

test(
  "with the tunables freed buffers' pages are reused: a fraction of the page faults glibc's defaults take",
  {
    skip: process.platform !== "linux" && "glibc tunables",
  },
  () => {
    const { GLIBC_TUNABLES: _, ...plain } = process.env;
    const without = faultsAfterWarmUp(plain);
    const withTunables = faultsAfterWarmUp({ ...plain, GLIBC_TUNABLES: AXON_GLIBC_TUNABLES });
    // Measured: ~1,790 against ~285 (the trimmed heap is mapped afresh every round by default).
    assert.ok(withTunables * 3 < without, `${withTunables} page faults with the tunables, ${without} without`);
  },
);
