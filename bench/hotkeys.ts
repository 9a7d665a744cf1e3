// How many hotkeys one host serves: one axon process (bench/axon-server.ts) serving H hotkeys on H ports over one
// model, under validator-like load, for growing H until p99 passes 1 s or a request fails. Prints JSON.
//
// Load per hotkey, as a validator population produces it: each of V validators challenges the hotkey once every
// `period` seconds on average (66 s: a validator step queries 10 miners, then sleeps 60 s) — a Poisson process — and
// organic traffic arrives in bursts of 10 simultaneous requests, one burst per hotkey and period on average. Every
// request is a distinct, freshly signed 224×224 q75 JPEG from a different validator of the burst (the result cache is
// off: no two requests share an image). A level runs `window` seconds of this open-loop arrival (the same rates as a
// 66 s cycle, sampled over a shorter window), and passes with p99 < 1 s and zero errors.
//
//   node --import tsx bench/hotkeys.ts --model DIR [--ep cpu|cuda] [--validators 24] [--levels 8,16,32,...]
import { writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { Dendrite } from "@roadwork/protocol";
import { challengeImages } from "./lib/images.ts";
import { answered } from "./lib/load.ts";
import { describeMachine } from "./lib/machine.ts";
import { freePort, ServerProcess } from "./lib/servers.ts";
import { summarize } from "./lib/stats.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    ep: { type: "string", default: "cpu" },
    validators: { type: "string", default: "24" },
    "period-s": { type: "string", default: "66" },
    burst: { type: "string", default: "10" },
    "window-s": { type: "string", default: "20" },
    levels: { type: "string", default: "4,8,16,32,64,128,256,512" },
    "p99-limit-ms": { type: "string", default: "1000" },
    "axon-entry": { type: "string", default: join(import.meta.dirname, "axon-server.ts") },
    threads: { type: "string", default: "0" },
    "pin-cpus": { type: "string", default: "" },
    label: { type: "string", default: "hotkeys" },
    out: { type: "string" },
    seed: { type: "string", default: "7" },
  },
});
if (!values.model) throw new Error("--model BUNDLE_DIR is required");
const V = Number(values.validators);
const period = Number(values["period-s"]);
const burst = Number(values.burst);
const windowS = Number(values["window-s"]);
const levels = values.levels.split(",").map(Number);
const limitMs = Number(values["p99-limit-ms"]);
const maxHotkeys = Math.max(...levels);

let s = Number(values.seed) >>> 0 || 1;
const rand = () => {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  return (s >>> 0) / 4294967296;
};
/** Arrival times of a Poisson process of `rate` per second over [0, window). */
const poisson = (rate: number): number[] => {
  const out: number[] = [];
  for (let t = -Math.log(1 - rand()) / rate; t < windowS; t += -Math.log(1 - rand()) / rate) out.push(t);
  return out;
};

await cryptoWaitReady();
const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
const miners = Array.from({ length: maxHotkeys }, (_, i) => keyring.addFromUri(`//RoadworkBenchMiner${i}`).address);
const validators = Array.from({ length: Math.max(V, burst) }, (_, i) => {
  const pair = keyring.addFromUri(`//RoadworkBenchValidator${i}`);
  return new Dendrite({ signer: { address: pair.address, sign: (m: Uint8Array) => pair.sign(m) } });
});
const work = await mkdtemp(join(tmpdir(), "roadwork-hotkeys-"));
const metagraph = join(work, "metagraph.json");
writeFileSync(
  metagraph,
  JSON.stringify({
    netuid: 72,
    block: 1,
    takenAt: Date.now(),
    neurons: [
      ...miners.map((hotkey, uid) => ({ uid, hotkey, stake: 0, validatorPermit: false })),
      ...validators.map((d, i) => ({
        uid: maxHotkeys + i,
        hotkey: d.hotkey,
        stake: 50_000 + i,
        validatorPermit: true,
      })),
    ],
  }),
);
// Distinct images for every request of the largest level would cost minutes to draw; 256 distinct ones with the
// result cache off are as expensive to the server as fresh ones.
const images = (await challengeImages(256, 11)).map((j) => Buffer.from(j).toString("base64"));

const basePort = await freePort();
const entry = resolve(values["axon-entry"]);
const server = new ServerProcess({
  name: "axon-fleet",
  port: basePort,
  command: values["pin-cpus"] ? "taskset" : process.execPath,
  args: [
    ...(values["pin-cpus"] ? ["-c", values["pin-cpus"], process.execPath] : []),
    ...(entry.endsWith(".ts") ? ["--import", "tsx"] : []),
    entry,
    "--model",
    values.model,
    "--port",
    String(basePort),
    "--hotkey",
    miners.join(","),
    "--metagraph",
    metagraph,
    "--ep",
    values.ep,
    "--threads",
    values.threads,
    "--max-concurrent",
    "64",
  ],
});
const target = (h: number) => ({ ip: "127.0.0.1", port: basePort + h, hotkey: miners[h] as string });
const results: Record<string, unknown>[] = [];
try {
  process.stderr.write(`[hotkeys] starting one axon process with ${maxHotkeys} hotkeys on ports ${basePort}+\n`);
  const probe = validators[0] as Dendrite;
  await server.waitForFirstAnswer(async () => {
    const r = await probe.call({ axon: target(0), image: images[0] as string, timeout: 60 });
    return answered(r);
  }, 600_000);
  // Warm-up: a little of everything (both batch sizes, every port's first connection).
  await Promise.all(
    Array.from({ length: Math.min(maxHotkeys, 64) }, (_, h) =>
      (validators[h % validators.length] as Dendrite).call({
        axon: target(h),
        image: images[h] as string,
        timeout: 60,
      }),
    ),
  );
  let cursor = 0;
  for (const hotkeys of levels) {
    // The arrival schedule: [time, hotkey, validator] for every request of the window.
    const schedule: [number, number, number][] = [];
    for (let h = 0; h < hotkeys; h++) {
      for (let v = 0; v < V; v++) for (const t of poisson(1 / period)) schedule.push([t, h, v]);
      for (const t of poisson(1 / period)) {
        const first = Math.floor(rand() * validators.length);
        for (let k = 0; k < burst; k++) schedule.push([t, h, (first + k) % validators.length]);
      }
    }
    schedule.sort((a, b) => a[0] - b[0]);
    const samples: { latencyMs: number; status: number; prediction: number }[] = [];
    const started = performance.now();
    const inflight: Promise<void>[] = [];
    for (const [t, h, v] of schedule) {
      const wait = t * 1000 - (performance.now() - started);
      if (wait > 1) await sleep(wait);
      const image = images[cursor++ % images.length] as string;
      const dendrite = validators[v] as Dendrite;
      inflight.push(
        dendrite.call({ axon: target(h), image, timeout: 9 }).then((r) => {
          samples.push({ latencyMs: r.roundTripMs, status: r.status, prediction: r.prediction });
        }),
      );
    }
    await Promise.all(inflight);
    const wallS = (performance.now() - started) / 1000;
    const good = samples.filter(answered);
    const lat = summarize(good.map((x) => x.latencyMs));
    const errors = samples.length - good.length;
    const passed = errors === 0 && lat.p99 < limitMs;
    const statuses: Record<string, number> = {};
    for (const x of samples) if (!answered(x)) statuses[x.status] = (statuses[x.status] ?? 0) + 1;
    const row = {
      hotkeys,
      requests: samples.length,
      offeredReqPerSec: Number((samples.length / windowS).toFixed(2)),
      wallS: Number(wallS.toFixed(1)),
      latencyMs: lat,
      errors,
      ...(errors ? { errorStatuses: statuses } : {}),
      passed,
    };
    results.push(row);
    process.stderr.write(`[hotkeys] ${JSON.stringify(row)}\n`);
    if (!passed) break;
  }
} finally {
  await server.stop();
}
const passing = results.filter((r) => r.passed).map((r) => r.hotkeys as number);
const machine = describeMachine();
const report = {
  benchmark: "hotkeys served by one axon process at validator-like load",
  label: values.label,
  date: new Date().toISOString(),
  machine,
  model: values.model,
  device: server.info?.device ?? values.ep,
  method: {
    perHotkey: `${V} validators each challenging every ${period} s on average (Poisson) + organic bursts of ${burst} simultaneous requests, one per ${period} s on average`,
    offeredReqPerSecPerHotkey: Number(((V + burst) / period).toFixed(3)),
    windowS,
    request: "distinct signed 224x224 q75 JPEG, 9 s validator timeout, result cache off",
    pass: `p99 < ${limitMs} ms and zero errors`,
    serverCpus: values["pin-cpus"] || "all",
  },
  levels: results,
  maxHotkeysPassing: passing.length ? Math.max(...passing) : 0,
  firstFailing: results.find((r) => !r.passed)?.hotkeys ?? null,
};
const text = `${JSON.stringify(report, null, 2)}\n`;
if (values.out) writeFileSync(values.out, text);
process.stdout.write(text);
