// What moving sr25519 checks to the worker pool buys the event loop: N signed requests verified with verifyRequest
// (inline, on the event loop) and with verifyRequestAsync on a SignatureVerifierPool at a fixed concurrency, with a
// 1 ms timer ticking meanwhile. Reports wall time, verifications/s and the event loop's delay (how late the timer
// fires: what every other request's I/O would wait) and each verification's own latency (at concurrency 1: what a
// lone request pays). Prints JSON.
//
//   node --import tsx bench/verifier.ts [--n 400] [--concurrency 16] [--pool-size N]
import { loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import {
  Dendrite,
  defaultPoolSize,
  NonceStore,
  parseRequestHeaders,
  type RequestHeaders,
  SignatureVerifierPool,
  verifyRequest,
  verifyRequestAsync,
} from "@roadwork/protocol";
import { benchIdentities } from "./lib/identities.ts";
import { describeMachine } from "./lib/machine.ts";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "400" },
    concurrency: { type: "string", default: "16" },
    "pool-size": { type: "string" },
  },
});
const n = Number(values.n);
const concurrency = Number(values.concurrency);
const poolSize = values["pool-size"] ? Number(values["pool-size"]) : defaultPoolSize();

const ids = await benchIdentities(concurrency);
const image = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
const now = BigInt(Date.now()) * 1_000_000n;
/** One request per (worker, index); distinct uuids per worker keep nonces strictly increasing per key. */
const build = (): RequestHeaders[] =>
  Array.from({ length: n }, (_, i) => {
    const d = new Dendrite({ signer: ids.validators[i % concurrency]!, uuid: `bench-${i % concurrency}` });
    const req = d.buildRequest({
      axon: { ip: "127.0.0.1", port: 8091, hotkey: ids.minerHotkey },
      image,
      nonceNs: now + BigInt(i),
    });
    return parseRequestHeaders((name) => req.headers[name]);
  });

const latencies: number[] = [];
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return +(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0).toFixed(3);
};

async function measure(run: (requests: RequestHeaders[], nonces: NonceStore) => Promise<void>) {
  const requests = build();
  latencies.length = 0;
  const nonces = new NonceStore();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const t = performance.now();
  await run(requests, nonces);
  const wallMs = performance.now() - t;
  delay.disable();
  return {
    wallMs: Math.round(wallMs),
    verificationsPerSec: Math.round((n / wallMs) * 1000),
    eventLoopDelayMs: {
      p50: +(delay.percentile(50) / 1e6).toFixed(2),
      p99: +(delay.percentile(99) / 1e6).toFixed(2),
      max: +(delay.max / 1e6).toFixed(2),
    },
    verifyLatencyMs: { p50: pct(latencies, 50), p99: pct(latencies, 99) },
  };
}

const ctx = (nonces: NonceStore) => ({ selfHotkey: ids.minerHotkey, nowNs: now, nonces });
/** `concurrency` callers, caller k sending its own key's requests in nonce order (as one dendrite stream does). */
const callers = async (requests: RequestHeaders[], each: (h: RequestHeaders) => Promise<void>) => {
  await Promise.all(
    Array.from({ length: concurrency }, async (_, k) => {
      for (let i = k; i < requests.length; i += concurrency) {
        const t = performance.now();
        await each(requests[i]!);
        latencies.push(performance.now() - t);
        await new Promise<void>((r) => setImmediate(r));
      }
    }),
  );
};

const inline = await measure((requests, nonces) => callers(requests, async (h) => verifyRequest(h, ctx(nonces))));
const pool = new SignatureVerifierPool({ size: poolSize });
await pool.start();
const pooled = await measure((requests, nonces) => callers(requests, (h) => verifyRequestAsync(h, ctx(nonces), pool)));
await pool.close();

const machine = describeMachine();
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: "sr25519 request verification: inline vs worker pool",
      machine: `${machine.cpuModel}, ${machine.cores} cores`,
      loadAverage1m: { atEnd: +loadavg()[0]!.toFixed(2) },
      requests: n,
      concurrency,
      poolSize,
      inline,
      pool: pooled,
    },
    null,
    2,
  )}\n`,
);
