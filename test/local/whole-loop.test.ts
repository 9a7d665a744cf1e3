// The whole local loop at a small size: generate procedural scenes → train the demo head → write the bundle →
// serve it with the real axon → local validators send signed, augmented challenges and score them like the subnet;
// then an attacker's requests must all be refused while honest validators keep being answered. Finally `roadwork
// start` runs on the cached data directory and stops cleanly.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MetagraphSnapshot } from "@roadwork/chain/snapshot";
import { loadScorer, type OnnxScorer, silentLogger as silentInference } from "@roadwork/inference";
import { createAxon, type RunningAxon, SwappableMetagraph, silentLogger, startAxon } from "@roadwork/miner";
import type { DendriteRequest } from "@roadwork/protocol";
import { ChallengeSource, DEMO_SCENES, type DemoModel, ensureDemoModel, ValidatorSimulator } from "@roadwork/training";
import {
  ATTACK_KINDS,
  createAttacker,
  dendriteValidators,
  type LocalKeys,
  localKeys,
  localMetagraph,
  localPaths,
} from "../../packages/cli/src/local-network.ts";

const SCENES = DEMO_SCENES;
const root = new URL("../..", import.meta.url).pathname;

describe("local mode: generate → train → bundle → serve → simulate", { timeout: 600_000 }, () => {
  let dataDir: string;
  let demo: DemoModel;
  let keys: LocalKeys;
  let scorer: OnnxScorer;
  let running: RunningAxon;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "roadwork-local-"));
    const paths = localPaths(dataDir);
    demo = await ensureDemoModel({ datasetDir: paths.dataset, bundleDir: paths.bundle, scenes: SCENES });
    keys = await localKeys(dataDir, 3);
    scorer = await loadScorer({ model: paths.bundle, executionProvider: "cpu", logger: silentInference });
    const axon = createAxon({
      hotkey: keys.miner,
      scorer,
      metagraph: new SwappableMetagraph(MetagraphSnapshot.parse(localMetagraph(keys, 0))),
      // The simulated validators send far faster than real ones (a challenge a minute); lift the per-hotkey limit.
      config: { port: 0, host: "127.0.0.1", rateLimit: { burst: 200, refillPerSecond: 100 } },
      logger: silentLogger,
    });
    running = await startAxon(axon);
  });

  after(async () => {
    await running?.close(1_000);
    await scorer?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("trains a demo model whose held-out report is honest and reusable", async () => {
    assert.ok(demo.report, "a freshly trained model has a report");
    assert.equal(demo.reused.model, false);
    assert.equal(demo.dataset.manifest.source, "procedural");
    assert.equal(demo.manifest.calibration.kind, "threshold-shift");
    const again = await ensureDemoModel({
      datasetDir: localPaths(dataDir).dataset,
      bundleDir: localPaths(dataDir).bundle,
      scenes: SCENES,
    });
    assert.deepEqual(again.reused, { dataset: true, model: true });
  });

  it("reaches MCC ≥ 0.8 on held-out images through the axon, and rejects every attack", async (t) => {
    const axonTarget = { ip: "127.0.0.1", port: running.port, hotkey: keys.miner.address };
    const challenges = new ChallengeSource(demo.dataset, { splits: ["test"], seed: 2024 });
    const sent: DendriteRequest[] = [];
    const honest = new ValidatorSimulator({
      validators: dendriteValidators(keys.validators, axonTarget, sent),
      challenges,
      rate: 40,
      // A fixed sample: the seeded challenge source makes these 400 challenges the same on every run.
      maxChallenges: 400,
    });
    // Ends when the 400 are answered; the budget only has to outlast a loaded CI machine. A third are native-size
    // frames (spec §4.7), drawn at 1920×1080 or 1024×1024, ~0.3 s each for the simulator on one core.
    const board = await honest.run(300);
    assert.equal(board.overall.answered, 400);
    assert.deepEqual(
      board.formats.map((f) => f.format),
      ["jan", "apr", "may"],
    );
    t.diagnostic(
      `per validator format through the axon: ${board.formats.map((f) => `${f.format} ${f.sent} sent, acc ${f.accuracy.toFixed(3)} MCC ${f.mcc.toFixed(3)}`).join("; ")}`,
    );
    assert.equal(board.overall.errors, 0);
    assert.ok(
      board.overall.mcc >= 0.8,
      `held-out MCC through the axon ${board.overall.mcc.toFixed(3)} (accuracy ${board.overall.accuracy.toFixed(3)})`,
    );
    for (const v of board.validators) assert.ok(v.ema > 0);
    const o = board.overall;
    t.diagnostic(
      `offline test split: MCC ${demo.report?.test.mcc.toFixed(3)} acc ${demo.report?.test.accuracy.toFixed(3)} AUC ${demo.report?.test.rocAuc.toFixed(3)}; through the axon: ${o.answered} challenges, MCC ${o.mcc.toFixed(3)} acc ${o.accuracy.toFixed(3)} p50 ${o.p50.toFixed(1)}ms p99 ${o.p99.toFixed(1)}ms`,
    );

    // The attack phase is about hostile requests: 224×224 formats only, so drawing native frames on this thread
    // does not eat into the honest requests' 9 s on a loaded machine.
    const quick = new ChallengeSource(demo.dataset, { splits: ["test"], seed: 2025, formats: { jan: 1, apr: 1 } });
    const attacked = new ValidatorSimulator({
      validators: dendriteValidators(keys.validators, axonTarget, sent),
      challenges: quick,
      rate: 10,
      attacker: createAttacker({
        axon: axonTarget,
        keys,
        image: (await quick.next()).image,
        honestRequests: sent,
      }),
      attackRate: 60,
      attackWindowMs: "always",
    });
    const under = await attacked.run(5);
    assert.equal(under.overall.errors, 0, "honest validators are still answered under attack");
    assert.deepEqual(
      under.attacks.map((a) => a.kind),
      [...ATTACK_KINDS],
    );
    t.diagnostic(
      `under attack: honest p50/p99 ${under.overall.p50.toFixed(1)}/${under.overall.p99.toFixed(1)}ms; ${under.attacks.map((a) => `${a.kind} ${a.rejected}/${a.sent}`).join(", ")}`,
    );
    for (const a of under.attacks) {
      assert.ok(a.sent > 0, `${a.kind} was sent`);
      assert.equal(a.leaked, 0, `${a.kind} leaked: ${JSON.stringify(a.statuses)}`);
      assert.equal(a.rejected, a.sent);
    }
  });

  it("`roadwork start` reuses the cached model, shows the scoreboard and exits 0", async () => {
    const child = spawn(
      process.execPath,
      [
        "packages/cli/bin/roadwork.mjs",
        "start",
        "--data-dir",
        dataDir,
        "--scenes",
        String(SCENES),
        "--port",
        "0",
        "--duration",
        "3",
        "--validators",
        "2",
      ],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 0, output);
    assert.match(output, /\(cached\)/);
    assert.match(output, /scoreboard after/);
    assert.match(output, /overall/);
    assert.match(output, /stopped/);
    // The operator's log: the axon's start and every answered challenge, not an empty file.
    const log = await readFile(join(dataDir, "logs", "axon.log"), "utf8");
    assert.match(log, /"message":"axon listening"/);
    assert.match(log, /"message":"challenge answered"/);
  });
});
