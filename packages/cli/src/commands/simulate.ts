// `roadwork simulate`: local validators with their own sr25519 keys send signed ImageSynapse challenges (held-out
// images, validator augmentations) to an axon and score the answers with the subnet's reward; `--attack` mixes in
// hostile requests. The wiring it shares with `roadwork start` lives in ../local-network.ts.
import { defineCommand, UsageError } from "../command.ts";

export const command = defineCommand({
  name: "simulate",
  summary: "send signed validator challenges to an axon and score the answers",
  usage: "[--url http://127.0.0.1:8091] [options]",
  description: `Uses the keys, metagraph and dataset 'npm start' wrote under the data directory (.roadwork/ by default). Exit
code 0 when some challenges were answered, 1 when every challenge failed (the reasons are printed), 3 when an attack
request was accepted.`,
  options: {
    url: { type: "string", value: "<http url>", default: "http://127.0.0.1:8091", help: "the axon" },
    validators: { type: "string", value: "<n>", default: "4", help: "simulated validators (1-64)" },
    rate: { type: "string", value: "<per s>", default: "4", help: "challenges per second, all validators together" },
    attack: { type: "boolean", default: false, help: "mix in hostile requests (all must be refused)" },
    duration: { type: "string", value: "<s>", help: "stop after this many seconds (default: until Ctrl-C)" },
    data: { type: "string", value: "<manifest.json>", help: "dataset the challenges come from" },
    metagraph: { type: "string", value: "<snapshot.json>", help: "metagraph the axon uses (default: the local one)" },
    "axon-hotkey": { type: "string", value: "<ss58>", help: "the axon's hotkey (default: the local miner key)" },
    "data-dir": {
      type: "string",
      value: "<dir>",
      help: "local data directory (default: $ROADWORK_DATA_DIR or .roadwork)",
    },
    json: { type: "boolean", default: false, help: "print the final scoreboard as JSON" },
    formats: {
      type: "string",
      value: "<jan,apr,may>",
      help: "validator formats to send, optionally weighted (jan:1,may:2); default: equal shares",
    },
  },
  async run({ values }) {
    const n = Number(values.validators);
    const rate = Number(values.rate);
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError("--validators must be an integer from 1 to 64");
    if (!(rate > 0) || rate > 200)
      throw new UsageError("--rate must be a number of challenges per second, above 0 and at most 200");
    const duration = values.duration === undefined ? undefined : Number(values.duration);
    if (duration !== undefined && !(duration > 0))
      throw new UsageError("--duration must be a positive number of seconds");
    let url: URL;
    try {
      url = new URL(values.url);
    } catch {
      throw new UsageError(`--url must be an http URL like http://127.0.0.1:8091, got '${values.url}'`);
    }
    const unreachable = await probe(url);
    if (unreachable) {
      throw new Error(
        `no axon answers at ${url.origin} (${unreachable}). Start one ('npm start' or 'roadwork serve') or pass --url.`,
      );
    }

    const net = await import("../local-network.ts");
    const { MetagraphSnapshot } = await import("@roadwork/chain/snapshot");
    const { DEFAULT_FORMAT_MIX, loadManifest, parseFormatMix } = await import("@roadwork/data");
    let formats: ReturnType<typeof parseFormatMix>;
    try {
      formats = values.formats ? parseFormatMix(values.formats) : DEFAULT_FORMAT_MIX;
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const { ChallengeSource, ValidatorSimulator } = await import("@roadwork/training");
    const dataDir = net.resolveDataDir(values["data-dir"]);
    const keys = await net.localKeys(dataDir, n);
    const metagraph = await MetagraphSnapshot.load(values.metagraph ?? net.localPaths(dataDir).metagraph).catch(
      (e: Error) => {
        throw new Error(`${e.message}. Run 'npm start' first (it writes the local metagraph), or pass --metagraph`);
      },
    );
    for (const v of keys.validators) {
      const neuron = metagraph.neuron(v.address);
      if (!neuron?.validatorPermit) {
        throw new Error(
          `local validator ${v.address} has no validator permit in the metagraph; restart 'npm start' with at least --validators ${n}`,
        );
      }
    }
    const axon = {
      ip: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port || 80),
      hotkey: values["axon-hotkey"] ?? keys.miner.address,
    };
    const dataset = await loadManifest(values.data ?? net.localPaths(dataDir).datasetManifest);
    const challenges = new ChallengeSource(dataset, { splits: ["test"], seed: Date.now(), formats });
    const sent: Parameters<typeof net.dendriteValidators>[2] = [];
    const failures = new net.FailureTally();
    const first = await challenges.next();
    const sim = new ValidatorSimulator({
      validators: net.dendriteValidators(keys.validators, axon, sent, failures),
      challenges,
      rate,
      ...(values.attack
        ? { attacker: net.createAttacker({ axon, keys, image: first.image, honestRequests: sent }) }
        : {}),
    });
    const interrupt = net.interruptSignal();
    let board: Awaited<ReturnType<typeof net.runWithScoreboard>>;
    try {
      board = await net.runWithScoreboard(sim, {
        ...(duration !== undefined ? { durationS: duration } : {}),
        signal: interrupt.signal,
        title: `roadwork simulate → ${url.origin}`,
      });
    } finally {
      interrupt.dispose();
    }
    if (values.json) console.log(JSON.stringify(board));
    if (failures.total > 0) console.error(`failed challenges: ${failures.top().join("; ")}`);
    if (board.overall.sent > 0 && board.overall.errors >= board.overall.sent) {
      console.error(
        `roadwork simulate: every one of ${board.overall.sent} challenges failed; check --url, --axon-hotkey and that the axon uses this metagraph`,
      );
      return 1;
    }
    return board.attacks.some((a) => a.leaked > 0) ? 3 : 0;
  },
});

/** Why nothing answers at `url`, or undefined when something does (any HTTP status counts as an answer). */
async function probe(url: URL): Promise<string | undefined> {
  try {
    const res = await fetch(new URL("/Synapse", url), { signal: AbortSignal.timeout(5_000) });
    await res.body?.cancel();
    return undefined;
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? (error as Error).message;
  }
}
