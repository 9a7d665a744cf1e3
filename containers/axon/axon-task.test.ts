// The axon task with two hotkeys, as ECS would start it (environment parsed by parseAxonEnv, the list-shaped hotkey
// secret), against a loopback subtensor that speaks the real runtime metadata and executes serve_axon with the
// pallet's rules: each hotkey listens on its own port, answers requests signed for it and refuses those signed for
// the other, is announced on chain with its own port, and the host's Elastic IP is claimed once, through the real EC2
// client against a loopback EC2 endpoint, before any announcement. Nothing leaves loopback.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EC2Client } from "@aws-sdk/client-ec2";
import { writeTinyClassifier } from "@roadwork/inference";
import { createJsonLogger } from "@roadwork/miner";
import { DEMO_NETUID, demoNeurons, devKey, OUR_UID } from "../../packages/chain/test/support/demo-subnet.ts";
import { LoopbackChain } from "../../packages/chain/test/support/loopback-chain.ts";
import { dendriteFor, sceneJpeg } from "../../test/axon/harness.ts";
import { type RunningAxonTask, startAxonTask } from "./axon-task.ts";
import { parseAxonEnv } from "./config.ts";
import { LoopbackEc2 } from "./test/loopback-ec2.ts";

const SECOND_UID = 7;
const PUBLIC_IP = "198.51.100.44";

describe("axon task serving two hotkeys", () => {
  const first = devKey("//Bob");
  const second = devKey("//Bob//second");
  const validator = devKey("//subnet-hotkey-0"); // uid 0 of the demo subnet: permit and the most stake
  let dir: string;
  let chain: LoopbackChain;
  let task: RunningAxonTask;
  let ec2: LoopbackEc2;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "roadwork-axon-task-"));
    const model = join(dir, "tiny.onnx");
    await writeTinyClassifier(model, { seed: 3 });
    const neurons = demoNeurons(first.address);
    neurons[SECOND_UID] = { ...neurons[SECOND_UID]!, hotkey: second.address, axon: undefined };
    chain = await LoopbackChain.start({ netuid: DEMO_NETUID, neurons });
    ec2 = await new LoopbackEc2().start();
    await writeFile(join(dir, "instance-id"), "i-0123456789abcdef0\n");
    const config = parseAxonEnv({
      ROADWORK_MODEL: model,
      ROADWORK_NETUID: String(DEMO_NETUID),
      ROADWORK_CHAIN_ENDPOINT: chain.url,
      ROADWORK_EXTERNAL_IP: PUBLIC_IP,
      ROADWORK_PORTS: "8091,8092",
      ROADWORK_HOST: "127.0.0.1",
      ROADWORK_DEVICE: "cpu",
      ROADWORK_MODEL_POLL_SECONDS: "0",
      ROADWORK_EIP_ALLOCATION_ID: "eipalloc-0123abcd",
      ROADWORK_INSTANCE_ID_FILE: join(dir, "instance-id"),
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
        clients: {
          ec2: new EC2Client({
            region: "us-east-1",
            endpoint: ec2.url,
            credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
            maxAttempts: 1,
          }),
        },
      },
    );
  });
  after(async () => {
    await task?.close();
    await chain?.close();
    await ec2?.stop();
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
    // One host, one address: claimed once (the loopback EC2 throttles the first try), before any announcement.
    assert.deepEqual(
      ec2.calls.map((c) => [c.Action, c.AllocationId, c.InstanceId]),
      [
        ["AssociateAddress", "eipalloc-0123abcd", "i-0123456789abcdef0"],
        ["AssociateAddress", "eipalloc-0123abcd", "i-0123456789abcdef0"],
      ],
    );
    const claimedAt = lines.findIndex((l) => l.message === "Elastic IP claimed: validators reach this host now");
    const firstServe = lines.findIndex((l) => l.message === "serve_axon");
    assert.ok(claimedAt >= 0 && claimedAt < firstServe, "the address is claimed before serve_axon");
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
