// Many hotkeys, one model: each hotkey answers on its own port with its own identity, nonces and metrics, and the
// shared scorer's image-hash cache answers the second hotkey's copy of a challenge.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { silentLogger as inferenceSilent, ModelHost } from "@roadwork/inference";
import {
  dendriteFor,
  devKeys,
  metagraphOf,
  neuron,
  type Pair,
  realScorer,
  sceneJpeg,
} from "../../../test/axon/harness.ts";
import { checkFleet, type RunningFleet, startHotkeyFleet } from "../src/hotkey-fleet.ts";
import { silentLogger } from "../src/logger.ts";

let keys: Awaited<ReturnType<typeof devKeys>>;
let host: ModelHost;
let fleet: RunningFleet;
let cleanup: () => Promise<void>;
const miners: Pair[] = [];

before(async () => {
  keys = await devKeys();
  miners.push(keys.alice, keys.bob, keys.charlie);
  const tiny = await realScorer();
  await tiny.scorer.close();
  cleanup = tiny.cleanup;
  host = await ModelHost.open(tiny.modelPath, { executionProvider: "cpu", logger: inferenceSilent });
  const metagraph = metagraphOf([
    neuron(0, keys.alice, 10, false),
    neuron(1, keys.bob, 10, false),
    neuron(2, keys.charlie, 10, false),
    neuron(3, keys.dave, 5000, true),
    neuron(4, keys.eve, 4000, true),
  ]);
  fleet = await startHotkeyFleet({
    members: miners.map((m) => ({ hotkey: { address: m.address }, port: 0 })),
    scorer: host,
    metagraph,
    logger: silentLogger,
    // Generous deadlines: the first request also starts the signature-verifier pool, and CI machines are loaded.
    config: { host: "127.0.0.1", maxTimeoutS: 120 },
  });
});
after(async () => {
  await fleet?.close(1_000);
  await host?.close();
  await cleanup?.();
});

const target = (i: number) => ({
  ip: "127.0.0.1",
  port: fleet.axons[i]?.running.port as number,
  hotkey: miners[i]?.address as string,
});

test("each hotkey answers on its own port; one validator's challenge to all of them is scored once", async () => {
  assert.equal(new Set(fleet.axons.map((a) => a.running.port)).size, 3, "three ports");
  const image = Buffer.from(await sceneJpeg(11, 224, { orange: true })).toString("base64");
  const before = host.stats.engine;
  const validator = dendriteFor(keys.dave);
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await validator.call({ axon: target(i), image, timeout: 60 }));
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200],
  );
  assert.equal(new Set(answers.map((a) => a.prediction)).size, 1, "the same answer from every hotkey");
  const after = host.stats.engine;
  assert.equal(after.requests - before.requests, 3);
  assert.equal(after.cacheHits - before.cacheHits, 2, "the shared image-hash cache answered the copies");
  // Metrics are per hotkey: each axon counted its own one prediction.
  for (const a of fleet.axons) assert.equal(a.axon.metrics.count(200), 1, a.hotkey);
});

test("identities are separate: a request signed for one hotkey is refused by another's port", async () => {
  const image = Buffer.from(await sceneJpeg(12, 224)).toString("base64");
  const validator = dendriteFor(keys.eve);
  const misdirected = await validator.call({
    axon: { ...target(1), hotkey: miners[0]?.address as string },
    image,
    timeout: 60,
  });
  assert.notEqual(misdirected.status, 200);
  const right = await validator.call({ axon: target(1), image, timeout: 60 });
  assert.equal(right.status, 200);
});

test("nonce stores are per hotkey: the same validator uuid keeps its own nonce sequence on each axon", async () => {
  const image = Buffer.from(await sceneJpeg(13, 224)).toString("base64");
  const validator = dendriteFor(keys.dave, "shared-uuid");
  // Alternating between hotkeys with one dendrite (one uuid): each axon sees a rising sequence of its own.
  for (const i of [0, 1, 2, 0, 1, 2]) {
    const r = await validator.call({ axon: target(i), image, timeout: 60 });
    assert.equal(r.status, 200, `hotkey ${i}: ${r.statusMessage}`);
  }
});

test("a fleet is checked before anything listens", () => {
  const k = { address: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY" };
  assert.throws(() => checkFleet([]), /at least one/);
  assert.throws(
    () =>
      checkFleet([
        { hotkey: k, port: 8091 },
        { hotkey: k, port: 8092 },
      ]),
    /listed twice/,
  );
  assert.throws(
    () =>
      checkFleet([
        { hotkey: k, port: 8091 },
        { hotkey: { address: "other" }, port: 8091 },
      ]),
    /used twice/,
  );
});
