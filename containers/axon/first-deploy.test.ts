// What makes a first deploy and a spot replacement safe, with real pieces: the axon waits (alive, heartbeat fresh)
// until a model appears instead of exiting; it claims the Elastic IP through the real EC2 client against a loopback
// EC2 Query endpoint only when asked; and it counts challenges per validator per hour.
import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ModelHost, writeTinyClassifier } from "@roadwork/inference";
import { createJsonLogger } from "@roadwork/miner";
import { claimAddress } from "./address-claim.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { openWhenAvailable } from "./model-wait.ts";
import { LoopbackEc2 } from "./test/loopback-ec2.ts";
import { ValidatorChallengeCounter } from "./validator-challenges.ts";

function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: createJsonLogger({ level: "debug", write: (l) => lines.push(JSON.parse(l)) }) };
}

describe("first deploy and address claim", () => {
  let dir: string;
  let ec2: LoopbackEc2;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "roadwork-axon-first-"));
    ec2 = await new LoopbackEc2().start();
  });
  after(async () => {
    await ec2.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("waits for a model that is not there yet, heartbeat fresh, and serves it once it appears", async () => {
    const beat = join(dir, "heartbeat");
    const stop = startHeartbeat(beat, 50);
    const { lines, logger } = recordingLogger();
    const model = join(dir, "model.onnx");
    const opened = openWhenAvailable(() => ModelHost.open(model, { executionProvider: "cpu" }), {
      source: model,
      retryMs: 100,
      logger,
    });
    // Poll (generously) rather than sleep a fixed 400 ms: a loaded CI may take longer to log the first miss.
    const waitingBy = Date.now() + 30_000;
    while (!lines.some((l) => String(l.message).startsWith("waiting for a model")) && Date.now() < waitingBy)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(
      lines.some((l) => String(l.message).startsWith("waiting for a model")),
      JSON.stringify(lines),
    );
    assert.ok(Date.now() - (await stat(beat)).mtimeMs < 5_000, "heartbeat refreshed while waiting");
    await writeTinyClassifier(model, { seed: 2 });
    const host = await opened;
    try {
      assert.ok(host.modelVersion);
      assert.ok(lines.some((l) => l.message === "model available; starting to serve"));
    } finally {
      stop();
      await host.close();
    }
  });

  it("claims the address through the EC2 API, retrying a throttle, with the host's instance id", async () => {
    const idFile = join(dir, "instance-id");
    await writeFile(idFile, "i-0123456789abcdef0\n");
    const { lines, logger } = recordingLogger();
    const client = new EC2Client({
      region: "us-east-1",
      endpoint: ec2.url,
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
      maxAttempts: 1,
    });
    const id = await claimAddress({
      ec2: client,
      allocationId: "eipalloc-0123abcd",
      instanceIdFile: idFile,
      logger,
      backoffMs: 10,
    });
    assert.equal(id, "eipassoc-0abc1234def567890");
    assert.equal(ec2.calls.length, 2);
    assert.deepEqual(
      { ...ec2.calls[1], Version: undefined },
      {
        Action: "AssociateAddress",
        AllocationId: "eipalloc-0123abcd",
        InstanceId: "i-0123456789abcdef0",
        AllowReassociation: "true",
        Version: undefined,
      },
    );
    assert.ok(lines.some((l) => l.message === "Elastic IP claim failed"));
    assert.ok(lines.some((l) => l.message === "Elastic IP claimed: validators reach this host now"));

    await writeFile(idFile, "not an id");
    assert.equal(
      await claimAddress({ ec2: client, allocationId: "eipalloc-0123abcd", instanceIdFile: idFile, logger }),
      undefined,
    );
    assert.equal(ec2.calls.length, 2, "no call without a valid instance id");
  });

  it("counts challenges per validator per hour", () => {
    let now = Date.UTC(2026, 10, 30, 7, 59, 0);
    const counter = new ValidatorChallengeCounter(() => now);
    counter.record("5Alice");
    counter.record("5Alice");
    counter.record("5Bob");
    assert.deepEqual(counter.current().counts, { "5Alice": 2, "5Bob": 1 });
    assert.equal(counter.takeSinceLastSample(), 3);
    assert.equal(counter.takeSinceLastSample(), 0);
    now += 120_000;
    const finished = counter.record("5Bob");
    assert.deepEqual(finished, { hour: "2026-11-30T07:00:00.000Z", counts: { "5Alice": 2, "5Bob": 1 } });
    assert.deepEqual(counter.current(), { hour: "2026-11-30T08:00:00.000Z", counts: { "5Bob": 1 } });
  });
});
