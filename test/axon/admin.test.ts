// What an operator and the wire guard see: /metrics only on the admin listener, the /Synapse ping, the final
// prediction guard (never NaN, never outside [0,1], never exactly 0.5) and a prediction sink that fails.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Scorer } from "@roadwork/inference";
import { HALF_NUDGED } from "@roadwork/miner";
import { dendriteFor, devKeys, metagraphOf, neuron, realScorer, sceneJpeg, sleep, startTestAxon } from "./harness.ts";

/** The real scorer with its output replaced: models misbehave, the wire must not. */
function rewritten(real: Scorer, score: number): Scorer {
  return {
    get modelVersion() {
      return real.modelVersion;
    },
    async score(image, options) {
      return { ...(await real.score(image, options)), score };
    },
    close: () => Promise.resolve(),
  };
}

describe("axon admin surface and output guard", () => {
  let keys: Awaited<ReturnType<typeof devKeys>>;
  let scorer: Scorer;
  let cleanup: () => Promise<void>;
  let image: Uint8Array;

  before(async () => {
    keys = await devKeys();
    ({ scorer, cleanup } = await realScorer());
    image = await sceneJpeg(21);
  });
  after(async () => cleanup());

  const metagraph = () => metagraphOf([neuron(0, keys.alice, 1000, true)]);

  test("GET /metrics answers on the loopback admin listener only, in Prometheus text", async () => {
    const axon = await startTestAxon({
      scorer,
      hotkey: keys.bob.address,
      metagraph: metagraph(),
      config: { admin: { port: 0, host: "127.0.0.1" } },
    });
    try {
      const target = { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address };
      assert.equal((await dendriteFor(keys.alice).call({ axon: target, image })).status, 200);
      assert.equal((await dendriteFor(keys.eve).call({ axon: target, image })).status, 403);
      const pub = await fetch(`${axon.url}/metrics`);
      assert.equal(pub.status, 404);
      await pub.body?.cancel();
      assert.ok(axon.running.adminUrl?.startsWith("http://127.0.0.1:"));
      const res = await fetch(`${axon.running.adminUrl}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
      const text = await res.text();
      assert.match(text, /^roadwork_axon_requests_total\{status="200"\} 1$/m);
      assert.match(text, /^roadwork_axon_requests_total\{status="403"\} 1$/m);
      assert.match(text, /^roadwork_axon_request_duration_seconds_count 2$/m);
      assert.match(text, /^roadwork_axon_success_latency_seconds\{quantile="0.99"\} [\d.e-]+$/m);
      assert.match(text, /^roadwork_axon_queue_depth 0$/m);
      assert.ok(text.includes(`\nroadwork_axon_model_info{version="${scorer.modelVersion}"} 1\n`));
      assert.match(text, /^roadwork_axon_metagraph_age_seconds [\d.]+$/m);
      const health = (await (await fetch(`${axon.running.adminUrl}/healthz`)).json()) as { hotkey: string };
      assert.equal(health.hotkey, keys.bob.address);
    } finally {
      await axon.close();
    }
  });

  test("GET /Synapse ping names the axon hotkey without a signature", async () => {
    const axon = await startTestAxon({ scorer, hotkey: keys.bob.address, metagraph: metagraph() });
    try {
      const res = await fetch(`${axon.url}/Synapse`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("bt_header_axon_hotkey"), keys.bob.address);
      assert.equal(((await res.json()) as { axon: { hotkey: string } }).axon.hotkey, keys.bob.address);
    } finally {
      await axon.close();
    }
  });

  for (const [label, score, expected] of [
    ["exactly 0.5 is nudged below 0.5 (keeps the validators' reading: no roadwork)", 0.5, HALF_NUDGED],
    ["above 1 is clamped to 1", 1.7, 1],
    ["below 0 is clamped to 0", -0.2, 0],
  ] as const) {
    test(`prediction guard: ${label}`, async () => {
      const axon = await startTestAxon({
        scorer: rewritten(scorer, score),
        hotkey: keys.bob.address,
        metagraph: metagraph(),
      });
      try {
        const target = { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address };
        const r = await dendriteFor(keys.alice).call({ axon: target, image });
        assert.equal(r.status, 200);
        assert.equal(r.prediction, expected);
      } finally {
        await axon.close();
      }
    });
  }

  test("prediction guard: a NaN score is a 500 with an error id, never NaN or null on the wire", async () => {
    const logged: string[] = [];
    const axon = await startTestAxon({
      scorer: rewritten(scorer, Number.NaN),
      hotkey: keys.bob.address,
      metagraph: metagraph(),
      logger: { debug() {}, info() {}, warn() {}, error: (m, f) => logged.push(`${m} ${JSON.stringify(f)}`) },
    });
    try {
      const target = { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address };
      const r = await dendriteFor(keys.alice).call({ axon: target, image });
      assert.equal(r.status, 500);
      assert.equal(r.prediction, -1);
      const id = /^Internal Server Error #([0-9a-f-]{36})$/.exec(r.statusMessage ?? "");
      assert.ok(id, r.statusMessage ?? "");
      assert.doesNotMatch(r.body, /NaN|null,"prediction"|at .*\.ts/);
      assert.ok(logged.some((l) => l.includes(id[1]!) && l.includes("non-finite")));
    } finally {
      await axon.close();
    }
  });

  test("a failing or hanging prediction sink never delays or fails the answer", async () => {
    let calls = 0;
    const axon = await startTestAxon({
      scorer,
      hotkey: keys.bob.address,
      metagraph: metagraph(),
      config: { predictionSinkMaxPending: 2 },
      onPrediction: (r) => {
        calls++;
        if (r.callerUid === 0 && calls % 2 === 0) return new Promise<void>(() => {}); // never settles
        throw new Error("export bucket unavailable");
      },
    });
    try {
      const target = { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address };
      const d = dendriteFor(keys.alice);
      for (let i = 0; i < 6; i++) assert.equal((await d.call({ axon: target, image })).status, 200);
      await sleep(20);
      const text = axon.axon.metrics.render();
      assert.match(text, /^roadwork_axon_prediction_records_failed_total [1-9]\d*$/m);
      assert.match(text, /^roadwork_axon_prediction_records_dropped_total [1-9]\d*$/m);
    } finally {
      await axon.close();
    }
  });
});
