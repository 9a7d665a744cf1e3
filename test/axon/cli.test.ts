// `roadwork serve` and `roadwork query` as an operator runs them: child processes, a real model file, a snapshot file.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { writeTinyClassifier } from "@roadwork/inference";
import { devKeys, sceneJpeg } from "./harness.ts";

const BIN = new URL("../../packages/cli/bin/roadwork.mjs", import.meta.url).pathname;

function roadwork(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  const clean = { ...process.env };
  for (const k of Object.keys(clean)) if (k.startsWith("ROADWORK_")) delete clean[k];
  return spawn(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, stdio: "pipe" });
}

function finished(
  child: ChildProcessWithoutNullStreams,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c;
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c;
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

describe("roadwork serve + roadwork query", () => {
  let dir: string;
  let keys: Awaited<ReturnType<typeof devKeys>>;

  before(async () => {
    keys = await devKeys();
    dir = await mkdtemp(join(tmpdir(), "roadwork-cli-axon-"));
    await writeTinyClassifier(join(dir, "model.onnx"), { seed: 5 });
    await writeFile(join(dir, "street.jpg"), await sceneJpeg(8));
    await writeFile(
      join(dir, "snapshot.json"),
      JSON.stringify({
        netuid: 323,
        block: 0,
        neurons: [
          { uid: 0, hotkey: keys.alice.address, stake: 1000.0, validatorPermit: true },
          { uid: 1, hotkey: keys.bob.address, stake: 10.0, validatorPermit: false },
        ],
      }),
    );
    await writeFile(join(dir, "bad-snapshot.json"), JSON.stringify({ netuid: 323, neurons: [{ uid: 0 }] }));
    // A bittensor wallet laid out as btcli does: <wallets>/<name>/hotkeys/<hotkey> (dev key //Bob).
    await mkdir(join(dir, "wallets", "miner", "hotkeys"), { recursive: true });
    await writeFile(
      join(dir, "wallets", "miner", "hotkeys", "axon"),
      JSON.stringify({ secretPhrase: "//Bob", ss58Address: keys.bob.address }),
    );
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test("serve (hotkey from a wallet dir) prints one ready line, query gets a prediction, SIGHUP reloads the snapshot, SIGTERM stops it cleanly", async () => {
    const serve = roadwork([
      "serve",
      "--model",
      join(dir, "model.onnx"),
      "--metagraph",
      join(dir, "snapshot.json"),
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--predictions",
      join(dir, "records.jsonl"),
      "--wallet",
      join(dir, "wallets", "miner"),
      "--hotkey",
      "axon",
    ]);
    const done = finished(serve);
    const ready = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`no ready line; stdout: ${out}`)), 30_000);
      serve.stdout.on("data", (c: Buffer) => {
        out += c;
        const line = out.split("\n").find((l) => l.startsWith("roadwork axon ready"));
        if (line) {
          clearTimeout(timer);
          resolve(line);
        }
      });
      serve.on("close", () => reject(new Error(`serve exited before ready; stdout: ${out}`)));
    });
    const m = /^roadwork axon ready hotkey=(\S+) address=(http:\/\/127\.0\.0\.1:\d+) model=(\S+) validators=1$/.exec(
      ready,
    );
    assert.ok(m, ready);
    assert.equal(m[1], keys.bob.address);

    // No --axon-hotkey: query learns it from the /Synapse ping.
    const query = await finished(
      roadwork(["query", "--url", m[2]!, "--image", join(dir, "street.jpg"), "--dendrite-seed", "//Alice"]),
    );
    assert.equal(query.code, 0, query.stderr);
    const answer = JSON.parse(query.stdout) as {
      status: number;
      prediction: number;
      roundTripMs: number;
      axonHotkey: string;
    };
    assert.equal(answer.status, 200);
    assert.ok(answer.prediction > 0 && answer.prediction < 1);
    assert.ok(answer.roundTripMs > 0);
    assert.equal(answer.axonHotkey, keys.bob.address);
    assert.match(query.stderr, /round-trip [\d.]+ ms, status 200/);

    // A hotkey outside the snapshot is refused, and query says so with a non-zero exit.
    const refused = await finished(
      roadwork([
        "query",
        "--url",
        m[2]!,
        "--image",
        join(dir, "street.jpg"),
        "--dendrite-seed",
        "//Eve",
        "--axon-hotkey",
        keys.bob.address,
      ]),
    );
    assert.equal(refused.code, 1);
    assert.equal((JSON.parse(refused.stdout) as { status: number }).status, 403);

    // SIGHUP reloads the snapshot file: //Eve becomes a validator and is answered.
    await writeFile(
      join(dir, "snapshot.json"),
      JSON.stringify({
        netuid: 323,
        block: 1,
        neurons: [
          { uid: 0, hotkey: keys.alice.address, stake: 1000.0, validatorPermit: true },
          { uid: 1, hotkey: keys.bob.address, stake: 10.0, validatorPermit: false },
          { uid: 2, hotkey: keys.eve.address, stake: 50.0, validatorPermit: true },
        ],
      }),
    );
    const reloaded = new Promise<void>((resolve) => {
      const onData = (c: Buffer) => {
        if (String(c).includes("metagraph snapshot reloaded")) {
          serve.stderr.off("data", onData);
          resolve();
        }
      };
      serve.stderr.on("data", onData);
    });
    serve.kill("SIGHUP");
    await reloaded;
    const admitted = await finished(
      roadwork([
        "query",
        "--url",
        m[2]!,
        "--image",
        join(dir, "street.jpg"),
        "--dendrite-seed",
        "//Eve",
        "--axon-hotkey",
        keys.bob.address,
      ]),
    );
    assert.equal(admitted.code, 0, admitted.stdout);

    serve.kill("SIGTERM");
    const exit = await done;
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout.trim().split("\n").length, 1, "exactly one line on stdout");
    assert.doesNotMatch(exit.stderr, /Bob|bottom drive/, "no secret material in logs");
    const { readFile } = await import("node:fs/promises");
    const records = (await readFile(join(dir, "records.jsonl"), "utf8")).trim().split("\n");
    assert.deepEqual(
      records.map((r) => (JSON.parse(r) as { callerHotkey: string }).callerHotkey),
      [keys.alice.address, keys.eve.address],
    );
  });

  test("serve refuses a bad snapshot and a bad port with clear errors", async () => {
    const bad = await finished(
      roadwork(
        ["serve", "--model", join(dir, "model.onnx"), "--metagraph", join(dir, "bad-snapshot.json"), "--port", "0"],
        {
          ROADWORK_HOTKEY_MNEMONIC: "//Bob",
        },
      ),
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not a valid metagraph snapshot.*docs\/metagraph-snapshot\.md/);
    const noKey = await finished(
      roadwork([
        "serve",
        "--model",
        join(dir, "model.onnx"),
        "--metagraph",
        join(dir, "snapshot.json"),
        "--port",
        "99999",
      ]),
    );
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /--port must be a port number/);
  });
});
