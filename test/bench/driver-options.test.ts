// The benchmark driver's side-by-side settings: --variant's format, --axon-node-flags, and --pause-idle's stop/resume
// of a server process (seen by the kernel: /proc/<pid>/stat's state is T while stopped).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseBenchArgs, parseVariant } from "../../bench/driver.ts";
import { ServerProcess } from "../../bench/lib/servers.ts";

describe("bench driver options", () => {
  it("parses a variant: bundle, node flags (inherited, own, or none), axon flags and environment", () => {
    assert.deepEqual(
      parseVariant("before|fp32|--initial-old-space-size=256|--verify pool --head-threads 2|A=1 B=x=y"),
      {
        name: "before",
        bundle: "fp32",
        nodeFlags: ["--initial-old-space-size=256"],
        axonArgs: ["--verify", "pool", "--head-threads", "2"],
        env: { A: "1", B: "x=y" },
      },
    );
    assert.equal(parseVariant("plain|int8").nodeFlags, undefined, "empty node flags inherit --axon-node-flags");
    assert.deepEqual(parseVariant("bare|fp32|none||").nodeFlags, []);
    assert.throws(() => parseVariant("Bad Name|fp32"), /bad --variant/);
    assert.throws(() => parseVariant("x|fp16"), /fp32 or int8/);
    assert.throws(() => parseVariant("x|fp32|||NOVALUE"), /not ENV=value/);
    assert.throws(() => parseVariant("x|fp32|||A=1|extra"), /bad --variant/);
  });

  it("takes the axons' node flags and several variants from the command line", () => {
    const o = parseBenchArgs([
      "--axon-node-flags=--initial-old-space-size=256 --single-threaded-gc",
      "--pause-idle",
      "--variant",
      "a|fp32||--verify inline|",
      "--variant",
      "b|int8|none||",
    ]);
    assert.deepEqual(o.axonNodeFlags, ["--initial-old-space-size=256", "--single-threaded-gc"]);
    assert.equal(o.pauseIdle, true);
    assert.deepEqual(
      o.variants.map((v) => [v.name, v.bundle, v.nodeFlags]),
      [
        ["a", "fp32", undefined],
        ["b", "int8", []],
      ],
    );
    assert.equal(parseBenchArgs([]).pauseIdle, false);
  });

  it("stops a server process in place and lets it run again", { skip: process.platform !== "linux" }, async () => {
    const server = new ServerProcess({
      name: "sleeper",
      command: process.execPath,
      args: ["-e", "setInterval(() => {}, 1000)"],
      port: 0,
    });
    const state = () => readFileSync(`/proc/${server.pid}/stat`, "utf8").replace(/^.*\) /, "")[0];
    const until = async (want: string) => {
      for (let i = 0; i < 100 && state() !== want; i++) await sleep(50);
      return state();
    };
    try {
      assert.notEqual(await until("S"), "T");
      server.pause();
      assert.equal(await until("T"), "T", "stopped");
      server.resume();
      assert.notEqual(await until("S"), "T", "running again");
      server.pause(); // stop() resumes a paused server before terminating it
    } finally {
      await server.stop();
    }
    assert.equal(server.child.exitCode ?? server.child.signalCode, "SIGTERM");
  });
});
