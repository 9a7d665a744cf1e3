// The axon task with two hotkeys, as ECS would start it (environment parsed by parseAxonEnv, the list-shaped hotkey
// secret), against a loopback subtensor that speaks the real runtime metadata and executes serve_axon with the
// pallet's rules: each hotkey listens on its own port, answers requests signed for it and refuses those signed for
// the other, and is announced on chain with its own port. No AWS client: nothing leaves loopback.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { writeTinyClassifier } from "@roadwork/inference";
import { createJsonLogger } from "@roadwork/miner";
import { DEMO_NETUID, demoNeurons, devKey, OUR_UID } from "../../packages/chain/test/support/demo-subnet.ts";
import { LoopbackChain } from "../../packages/chain/test/support/loopback-chain.ts";
import { dendriteFor, sceneJpeg } from "../../test/axon/harness.ts";
import { type RunningAxonTask, startAxonTask } from "./axon-task.ts";
import { parseAxonEnv } from "./config.ts";

const SECOND_UID = 7;
const PUBLIC_IP = "198.51.100.44";

describe("axon task serving two hotkeys", () => {
  const first = devKey("//Bob");
  const second = devKey("//Bob//second");
  const validator = devKey("//subnet-hotkey-0"); // uid 0 of the demo subnet: permit and the most stake
  let dir: string;
  let chain: LoopbackChain;
  let task: RunningAxonTask;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "roadwork-axon-task-"));
    const model = join(dir, "tiny.onnx");
    await writeTinyClassifier(model, { seed: 3 });
    const neurons = demoNeurons(first.address);
    neurons[SECOND_UID] = { ...neurons[SECOND_UID]!, hotkey: second.address, axon: undefined };
    chain = await LoopbackChain.start({ netuid: DEMO_NETUID, neurons });
    const config = parseAxonEnv({
      ROADWORK_MODEL: model,
      ROADWORK_NETUID: String(DEMO_NETUID),
      ROADWORK_CHAIN_ENDPOINT: chain.url,
      ROADWORK_EXTERNAL_IP: PUBLIC_IP,
      ROADWORK_PORTS: "8091,8092",
      ROADWORK_HOST: "127.0.0.1",
      ROADWORK_DEVICE: "cpu",
      ROADWORK_MODEL_POLL_SECONDS: "0",
      ROADWORK_HOTKEY_SECRET: JSON.stringify({
        hotkeys: [{ mnemonic: "//Bob//second", port: 8092, ss58Address: second.address }, { mnemonic: "//Bob" }],
      }),
    });
    assert.deepEqual(
      config.hotkeys.map((h) => h.port),
      [8092, 8091],
    );
    // The stage's ports may be taken on a test machine: listen on free ones; the task announces what it listens on.
    task = await startAxonTask(
      { ...config, hotkeys: config.hotkeys.map((h) => ({ ...h, port: 0 })) },
      {
        logger: createJsonLogger({ level: "debug", write: (l) => lines.push(JSON.parse(l)) }),
        axon: { maxTimeoutS: 120 }, // generous: a loaded CI machine also starts the verifier pool here
      },
    );
  });
  after(async () => {
    await task?.close();
    await chain?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const target = (i: number, hotkey = task.hotkeys[i]?.address as string) => ({
    ip: "127.0.0.1",
    port: task.hotkeys[i]?.port as number,
    hotkey,
  });

  it("listens once per hotkey, on distinct ports, and announces each on chain with its own port", () => {
    assert.deepEqual(
      task.hotkeys.map((h) => h.address),
      [second.address, first.address],
    );
    assert.equal(new Set(task.hotkeys.map((h) => h.port)).size, 2);
    assert.equal(task.healthy(), true);
    const onChain = (uid: number) => chain.neurons[uid]?.axon;
    assert.equal(onChain(SECOND_UID)?.port, task.hotkeys[0]?.port);
    assert.equal(onChain(OUR_UID)?.port, task.hotkeys[1]?.port);
    for (const uid of [SECOND_UID, OUR_UID]) assert.equal(onChain(uid)?.ip, 3325256748n, "198.51.100.44");
    const served = lines.filter((l) => l.message === "serve_axon").map((l) => [l.hotkey, l.action]);
    assert.deepEqual(
      served.sort(),
      [
        [first.address, "served"],
        [second.address, "served"],
      ].sort(),
    );
  });

  it("each port answers requests signed for its own hotkey and refuses those signed for the other", async () => {
    const image = Buffer.from(await sceneJpeg(21, 224, { orange: true })).toString("base64");
    const dendrite = dendriteFor(validator);
    for (const i of [0, 1]) {
      const right = await dendrite.call({ axon: target(i), image, timeout: 60 });
      assert.equal(right.status, 200, `hotkey ${i}: ${right.statusMessage}`);
      const other = task.hotkeys[1 - i]?.address as string;
      const misdirected = await dendrite.call({ axon: target(i, other), image, timeout: 60 });
      assert.equal(misdirected.status, 401, `signed for the other hotkey, sent to ${i}: ${misdirected.statusMessage}`);
    }
    // Metrics per hotkey: each axon counted its own answer and its own refusal.
    for (const a of task.fleet.axons) {
      assert.equal(a.axon.metrics.count(200), 1, a.hotkey);
      assert.equal(a.axon.metrics.count(401), 1, a.hotkey);
    }
  });

  it("one axon that stops listening makes the whole task unhealthy (its heartbeat stops)", async () => {
    await task.fleet.axons[1]?.running.close(1_000);
    assert.equal(task.healthy(), false, "one axon down is a task to replace");
  });
});
