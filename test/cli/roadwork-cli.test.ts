// The `roadwork` command as an operator meets it, over real processes: help for every command, usage errors, a
// serve on a taken port, simulate and query against nothing, and the README's snapshot → serve → query flow.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { writeTinyClassifier } from "@roadwork/inference";
import sharp from "sharp";
import { commandListText, commands } from "../../packages/cli/src/commands.ts";
import { bareEnv, ROOT, type RoadworkRun, runRoadwork } from "../support/roadwork-process.ts";

const BOB = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";

function roadwork(args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<RoadworkRun> {
  return runRoadwork(args, { env: bareEnv(env), timeoutMs });
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const port = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  return port;
}

/** Runs `fn` over `items` with at most `n` at a time (CI has 2 cores). */
async function pool<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

describe("roadwork command line", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "roadwork-cli-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("every command's module matches its table entry and its help names every option", async () => {
    for (const [name, entry] of Object.entries(commands)) {
      const { command } = await entry.load();
      assert.equal(command.name, name);
      assert.equal(command.summary, entry.summary, `${name}: the table's summary drifted from the command's`);
      const help = command.help();
      assert.match(help, new RegExp(`^usage: roadwork ${name} `), name);
      assert.match(help, /\noptions:\n/, name);
      assert.match(help, /-h, --help/, name);
    }
  });

  it("roadwork help lists every command with its summary, without loading them", async () => {
    const r = await roadwork(["help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${commandListText()}\n`, "bin/roadwork.mjs's fast path drifted from the table");
    const bare = await roadwork([]);
    assert.equal(bare.code, 1);
    assert.match(bare.stdout, /usage: roadwork <command>/);
    for (const [name, entry] of Object.entries(commands))
      assert.ok(r.stdout.includes(`${name}`) && r.stdout.includes(entry.summary));
  });

  it("--help and -h answer for every command with its options, exit 0", async () => {
    const names = Object.keys(commands);
    const runs = await pool(names, 3, (name) => roadwork([name, name === "train" ? "-h" : "--help"]));
    runs.forEach((r, i) => {
      const name = names[i]!;
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`usage: roadwork ${name}`), name);
      assert.match(r.stdout, /options:/, name);
      assert.equal(r.stderr.replace(/npm warn.*\n/g, ""), "", `${name} printed to stderr`);
    });
    const help = await roadwork(["help", "serve"]);
    assert.match(help.stdout, /--metagraph <snapshot\.json>/);
  });

  it("an unknown option is a usage error (exit 2) that points at --help", async () => {
    const r = await roadwork(["train", "--bogus"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Unknown option '--bogus'.*Run 'roadwork train --help'/);
  });

  it("serve on a taken port exits non-zero within seconds with a clear message", async () => {
    const model = join(dir, "model.onnx");
    await writeTinyClassifier(model, { seed: 3 });
    const snapshot = join(dir, "snap.json");
    const snap = await roadwork(["snapshot", "--local", "--out", snapshot, "--hotkey", BOB]);
    assert.equal(snap.code, 0, snap.stderr);
    const blocker: Server = createServer().listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await roadwork(
        ["serve", "--model", model, "--metagraph", snapshot, "--port", String(port), "--host", "127.0.0.1"],
        { ROADWORK_HOTKEY_MNEMONIC: "//Bob" },
        60_000,
      );
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });

  it("simulate against an absent axon exits non-zero and says why; query says the axon is unreachable", async () => {
    const port = await freePort();
    const sim = await roadwork(["simulate", "--url", `http://127.0.0.1:${port}`, "--duration", "2", "--data-dir", dir]);
    assert.equal(sim.code, 1);
    assert.match(sim.stderr, new RegExp(`no axon answers at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
    assert.ok(!/NaN/.test(sim.stdout + sim.stderr));
    const image = join(dir, "street.jpg");
    await sharp({ create: { width: 64, height: 64, channels: 3, background: "#c84" } })
      .jpeg()
      .toFile(image);
    const q = await roadwork([
      "query",
      "--url",
      `http://127.0.0.1:${port}`,
      "--image",
      image,
      "--dendrite-seed",
      "//Alice",
    ]);
    assert.equal(q.code, 3);
    assert.match(q.stderr, /axon at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)/);
    assert.doesNotMatch(q.stderr, /--axon-hotkey/);
  });

  it("the README flow: snapshot --local, serve, query with the printed seed", async () => {
    const model = join(dir, "flow.onnx");
    await writeTinyClassifier(model, { seed: 4 });
    const port = await freePort();
    const snapshot = join(dir, "snapshot.json");
    const env = { ROADWORK_HOTKEY_MNEMONIC: "//Bob" };
    const snap = await roadwork(["snapshot", "--local", "--out", snapshot, "--port", String(port)], env);
    assert.equal(snap.code, 0, snap.stderr);
    const printed = JSON.parse(snap.stdout) as { miner: string; validator: { seed: string } };
    assert.equal(printed.miner, BOB);
    assert.equal(JSON.parse(await readFile(snapshot, "utf8")).neurons.length, 2);

    const child = spawn(
      process.execPath,
      [
        "packages/cli/bin/roadwork.mjs",
        "serve",
        "--model",
        model,
        "--metagraph",
        snapshot,
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
      ],
      { cwd: ROOT, env: bareEnv(env) },
    );
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    const closed = once(child, "close");
    try {
      const deadline = Date.now() + 60_000;
      while (!/roadwork axon ready/.test(out) && Date.now() < deadline && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(out, /roadwork axon ready hotkey=5FHne/, out);
      const image = join(dir, "flow.jpg");
      await sharp({ create: { width: 224, height: 224, channels: 3, background: "#f80" } })
        .jpeg()
        .toFile(image);
      const q = await roadwork([
        "query",
        "--url",
        `http://127.0.0.1:${port}`,
        "--image",
        image,
        "--dendrite-seed",
        printed.validator.seed,
      ]);
      assert.equal(q.code, 0, q.stderr + q.stdout);
      const answer = JSON.parse(q.stdout) as { status: number; prediction: number };
      assert.equal(answer.status, 200);
      assert.ok(answer.prediction > 0 && answer.prediction < 1 && answer.prediction !== 0.5);
    } finally {
      child.kill("SIGTERM");
      await closed;
    }
  });
});
