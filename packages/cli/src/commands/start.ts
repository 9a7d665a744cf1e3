// `roadwork start` (`npm start`): the whole miner on this machine, offline. Builds (once) a procedural dataset and
// a demo model with the project's trainer, serves it with the real axon on 127.0.0.1, and runs local validators
// against it with a live scoreboard until Ctrl-C. Everything is written under one data directory.
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { MetagraphSnapshot } from "@roadwork/chain/snapshot";
import { loadScorer, silentLogger as silentInferenceLogger } from "@roadwork/inference";
import { createAxon, createJsonLogger, type RunningAxon, SwappableMetagraph, startAxon } from "@roadwork/miner";
import type { DendriteRequest } from "@roadwork/protocol";
import { ChallengeSource, DEMO_SCENES, ensureDemoModel, ProgressBar, ValidatorSimulator } from "@roadwork/training";
import type { Command } from "../command.ts";
import {
  createAttacker,
  dendriteValidators,
  interruptSignal,
  localKeys,
  localMetagraph,
  localPaths,
  resolveDataDir,
  runWithScoreboard,
} from "./simulate.ts";

export const command: Command = {
  summary: "run the miner locally: demo model, axon on 127.0.0.1, simulated validators, live scoreboard",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        port: { type: "string", default: "8091" },
        validators: { type: "string", default: "4" },
        rate: { type: "string", default: "2" },
        attack: { type: "boolean", default: false },
        duration: { type: "string" },
        scenes: { type: "string" },
        "data-dir": { type: "string" },
        json: { type: "boolean", default: false },
      },
      strict: true,
    });
    const port = Number(values.port);
    const n = Number(values.validators);
    const rate = Number(values.rate);
    const scenes = values.scenes === undefined ? DEMO_SCENES : Number(values.scenes);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("--port must be 0..65535");
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error("--validators must be an integer from 1 to 64");
    if (!(rate > 0) || rate > 200) throw new Error("--rate must be above 0 and at most 200 challenges per second");
    if (!Number.isInteger(scenes) || scenes < 40) throw new Error("--scenes must be an integer of at least 40");
    const duration = values.duration === undefined ? undefined : Number(values.duration);
    if (duration !== undefined && !(duration > 0)) throw new Error("--duration must be a positive number of seconds");

    const dataDir = resolveDataDir(values["data-dir"]);
    const paths = localPaths(dataDir);
    await mkdir(paths.logs, { recursive: true });
    const say = (line: string) => process.stderr.write(`${line}\n`);
    say(`roadwork: data directory ${dataDir}`);

    const bar = new ProgressBar(process.stderr);
    const demo = await ensureDemoModel({
      datasetDir: paths.dataset,
      bundleDir: paths.bundle,
      scenes,
      onProgress: (stage, done, total, detail) => bar.update(stage, done, total, detail),
    });
    bar.done();
    const counts = demo.dataset.manifest.counts;
    say(
      `dataset: ${demo.dataset.manifest.records.length} procedural scenes (${counts.train?.total} train / ${counts.val?.total} val / ${counts.test?.total} test)${demo.reused.dataset ? ", cached" : ""}`,
    );
    if (demo.report) {
      const t = demo.report.test;
      say(
        `model: ${demo.manifest.name}@${demo.manifest.version}${demo.reused.model ? " (cached)" : ""}: held-out MCC ${t.mcc.toFixed(3)}, accuracy ${t.accuracy.toFixed(3)}, ROC-AUC ${t.rocAuc.toFixed(3)} (report: ${join(paths.bundle, "report.html")})`,
      );
    }

    const keys = await localKeys(dataDir, n);
    const metagraph = new SwappableMetagraph(MetagraphSnapshot.parse(localMetagraph(keys, port)));
    const scorer = await loadScorer({ model: paths.bundle, executionProvider: "cpu", logger: silentInferenceLogger });
    const log = createWriteStream(join(paths.logs, "axon.log"), { flags: "a" });
    const logger = createJsonLogger({ write: (line) => log.write(`${line}\n`), base: { component: "axon" } });
    const make = (p: number) =>
      createAxon({ hotkey: keys.miner, scorer, metagraph, config: { port: p, host: "127.0.0.1" }, logger });
    let running: RunningAxon;
    try {
      running = await startAxon(make(port));
    } catch (error) {
      if (!/EADDRINUSE|EACCES/.test((error as Error).message)) throw error;
      running = await startAxon(make(0));
      say(`port ${port} is taken; the axon listens on ${running.port} instead`);
    }
    const snapshot = localMetagraph(keys, running.port);
    metagraph.replace(MetagraphSnapshot.parse(snapshot));
    await writeFile(paths.metagraph, `${JSON.stringify(snapshot, null, 1)}\n`);
    say(
      `axon: ${running.url} (hotkey ${keys.miner.address}); metagraph ${paths.metagraph}; log ${join(paths.logs, "axon.log")}`,
    );

    const axonTarget = { ip: "127.0.0.1", port: running.port, hotkey: keys.miner.address };
    const challenges = new ChallengeSource(demo.dataset, { splits: ["test"], seed: Date.now() });
    const sent: DendriteRequest[] = [];
    const sim = new ValidatorSimulator({
      validators: dendriteValidators(keys.validators, axonTarget, sent),
      challenges,
      rate,
      ...(values.attack
        ? {
            attacker: createAttacker({
              axon: axonTarget,
              keys,
              image: (await challenges.next()).image,
              honestRequests: sent,
            }),
          }
        : {}),
    });
    say(`scoreboard after ${(performance.now() / 1000).toFixed(1)} s since start — Ctrl-C stops everything`);
    const interrupt = interruptSignal();
    try {
      const board = await runWithScoreboard(sim, {
        ...(duration !== undefined ? { durationS: duration } : {}),
        signal: interrupt.signal,
        title: `roadwork local miner ${running.url}`,
      });
      if (values.json) console.log(JSON.stringify(board));
    } finally {
      interrupt.dispose();
      await sim.stop();
      await running.close(2_000);
      await scorer.close();
      await new Promise<void>((resolve) => log.end(resolve));
    }
    say("stopped");
    return 0;
  },
};
