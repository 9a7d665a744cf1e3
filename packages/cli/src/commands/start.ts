// `roadwork start` (`npm start`): the whole miner on this machine, offline. Builds (once) a procedural dataset and
// a demo model with the project's trainer, serves it with the real axon on 127.0.0.1, and runs local validators
// against it with a live scoreboard until Ctrl-C. Everything is written under one data directory.
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RunningAxon } from "@roadwork/miner";
import type { DendriteRequest } from "@roadwork/protocol";
import { defineCommand, UsageError } from "../command.ts";

export const command = defineCommand({
  name: "start",
  summary: "run the miner locally: demo model, axon on 127.0.0.1, simulated validators, live scoreboard",
  usage: "[options]",
  description: `Everything is written under the data directory (.roadwork/ by default): the dataset, the demo model and its
report, the local metagraph snapshot and keys, and logs/axon.log (one JSON line per answered challenge).
Ctrl-C stops everything.`,
  options: {
    port: { type: "string", value: "<n>", default: "8091", help: "axon port (another free one is taken if busy)" },
    validators: { type: "string", value: "<n>", default: "4", help: "simulated validators (1-64)" },
    rate: { type: "string", value: "<per s>", default: "2", help: "challenges per second, all validators together" },
    attack: { type: "boolean", default: false, help: "mix in hostile requests (all must be refused)" },
    duration: { type: "string", value: "<s>", help: "stop after this many seconds (default: until Ctrl-C)" },
    scenes: { type: "string", value: "<n>", help: "procedural scenes in the demo dataset (at least 40)" },
    "data-dir": {
      type: "string",
      value: "<dir>",
      help: "local data directory (default: $ROADWORK_DATA_DIR or .roadwork)",
    },
    json: { type: "boolean", default: false, help: "print the final scoreboard as JSON" },
    "scoreboard-every": {
      type: "string",
      value: "<s>",
      default: "10",
      help: "seconds between scoreboard lines when the output is not a terminal",
    },
    "no-capture": { type: "boolean", default: false, help: "do not keep challenge images under <data dir>/captures/" },
    formats: {
      type: "string",
      value: "<jan,apr,may>",
      help: "validator formats to send, optionally weighted (jan:1,may:2); default: equal shares",
    },
  },
  async run({ values }) {
    const { MetagraphSnapshot } = await import("@roadwork/chain/snapshot");
    const { ModelHost, watchModelSource } = await import("@roadwork/inference");
    const { ensureLocalPointer, localPipelinePaths } = await import("@roadwork/pipeline");
    const { ChallengeCapture, createAxon, createJsonLogger, LocalCaptureStore, SwappableMetagraph, startAxon } =
      await import("@roadwork/miner");
    const { ChallengeSource, DEMO_SCENES, ensureDemoModel, ProgressBar, ValidatorSimulator } = await import(
      "@roadwork/training"
    );
    const { DEFAULT_FORMAT_MIX, describeFormatMix, parseFormatMix } = await import("@roadwork/data");
    let formats: ReturnType<typeof parseFormatMix>;
    try {
      formats = values.formats ? parseFormatMix(values.formats) : DEFAULT_FORMAT_MIX;
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const {
      createAttacker,
      dendriteValidators,
      FailureTally,
      interruptSignal,
      localKeys,
      localMetagraph,
      localPaths,
      resolveDataDir,
      runWithScoreboard,
    } = await import("../local-network.ts");
    const port = Number(values.port);
    const n = Number(values.validators);
    const rate = Number(values.rate);
    const scenes = values.scenes === undefined ? DEMO_SCENES : Number(values.scenes);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError("--port must be 0..65535");
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError("--validators must be an integer from 1 to 64");
    if (!(rate > 0) || rate > 200) throw new UsageError("--rate must be above 0 and at most 200 challenges per second");
    if (!Number.isInteger(scenes) || scenes < 40) throw new UsageError("--scenes must be an integer of at least 40");
    const lineEveryS = Number(values["scoreboard-every"]);
    if (!(lineEveryS >= 0.1)) throw new UsageError("--scoreboard-every must be at least 0.1 seconds");
    const duration = values.duration === undefined ? undefined : Number(values.duration);
    if (duration !== undefined && !(duration > 0))
      throw new UsageError("--duration must be a positive number of seconds");

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
      const { formatLines } = await import("./train.ts");
      for (const line of formatLines(demo.report)) say(`model: ${line}`);
    }

    const keys = await localKeys(dataDir, n);
    const metagraph = new SwappableMetagraph(MetagraphSnapshot.parse(localMetagraph(keys, port)));
    // Served through the promotion pointer models/current.json (the demo until `roadwork pipeline run --local`
    // promotes a challenger): a rewritten pointer is swapped in while the validators keep scoring.
    await ensureLocalPointer(dataDir);
    const pointerPath = localPipelinePaths(dataDir).pointer;
    const log = createWriteStream(join(paths.logs, "axon.log"), { flags: "a" });
    // A request still finishing while the axon closes may log after the file is ended, and a full disk must not stop
    // the miner: late lines are dropped and a failing log file is reported once, never thrown.
    log.once("error", (error) => say(`axon.log: ${error.message}; logging to the file stopped`));
    const writeLog = (line: string) => {
      if (log.writable) log.write(line);
    };
    const scorer = await ModelHost.open(pointerPath, {
      executionProvider: "cpu",
      logger: {
        info: (message, details) => {
          writeLog(`${JSON.stringify({ component: "model-host", message, ...details })}\n`);
          if (message.includes("swapped")) say(`model: swapped ${details?.from} → ${details?.to}`);
        },
        warn: (message, details) => {
          writeLog(`${JSON.stringify({ component: "model-host", level: "warn", message, ...details })}\n`);
          say(`model: ${message}: ${details?.reason ?? ""}`);
        },
      },
    });
    const watching = watchModelSource(scorer, pointerPath);
    const logger = createJsonLogger({ write: (line) => writeLog(`${line}\n`), base: { component: "axon" } });
    // Challenges near the threshold (and a few percent of the rest) land in <data>/captures/ for `roadwork mine`.
    const capture = values["no-capture"]
      ? undefined
      : new ChallengeCapture({ store: new LocalCaptureStore(dataDir), logger });
    // The axon itself logs only failures; the answered challenges are what an operator looks for in axon.log.
    const make = (p: number) =>
      createAxon({
        hotkey: keys.miner,
        scorer,
        metagraph,
        config: { port: p, host: "127.0.0.1" },
        logger,
        ...(capture ? { capture } : {}),
        onPrediction: (r) =>
          logger.info("challenge answered", {
            caller: r.callerHotkey,
            uid: r.callerUid,
            prediction: r.prediction,
            latencyMs: Math.round(r.latencyMs * 10) / 10,
            model: r.modelVersion,
            cached: r.cached,
          }),
      });
    let running: RunningAxon;
    try {
      running = await startAxon(make(port));
    } catch (error) {
      if (!/EADDRINUSE|EACCES/.test((error as Error).message)) throw error;
      running = await startAxon(make(0));
      say(`port ${port} is taken; the axon listens on ${running.port} instead`);
    }
    logger.info("axon listening", { url: running.url, hotkey: keys.miner.address, model: scorer.modelVersion });
    const snapshot = localMetagraph(keys, running.port);
    metagraph.replace(MetagraphSnapshot.parse(snapshot));
    await writeFile(paths.metagraph, `${JSON.stringify(snapshot, null, 1)}\n`);
    say(
      `axon: ${running.url} (hotkey ${keys.miner.address}); metagraph ${paths.metagraph}; log ${join(paths.logs, "axon.log")}`,
    );

    const axonTarget = { ip: "127.0.0.1", port: running.port, hotkey: keys.miner.address };
    const challenges = new ChallengeSource(demo.dataset, { splits: ["test"], seed: Date.now(), formats });
    say(`validators send ${describeFormatMix(formats)} (jan: 224 crops, apr: letterbox, may: native frames)`);
    const sent: DendriteRequest[] = [];
    const failures = new FailureTally();
    const sim = new ValidatorSimulator({
      validators: dendriteValidators(keys.validators, axonTarget, sent, failures),
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
        lineEveryMs: lineEveryS * 1000,
        title: () => `roadwork local miner ${running.url} — model ${scorer.activeVersion}`,
      });
      if (values.json) console.log(JSON.stringify(board));
      if (failures.total > 0) say(`failed challenges: ${failures.top().join("; ")}`);
    } finally {
      interrupt.dispose();
      watching.close();
      await sim.stop();
      await running.close(2_000);
      await capture?.close();
      if (capture) {
        const c = capture.stats;
        say(`captures: ${c.written} kept in ${capture.where}, ${c.dropped} dropped, ${c.failed} failed`);
      }
      await scorer.close();
      logger.info("axon stopped", {});
      await new Promise<void>((resolve) => log.end(resolve));
    }
    say("stopped");
    return 0;
  },
});
