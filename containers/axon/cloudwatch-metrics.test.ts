import assert from "node:assert/strict";
import { test } from "node:test";
import { AxonMetrics } from "@roadwork/miner";
import { MINER_METRICS } from "../../stacks/config.ts";
import { METRIC_DIMENSIONS, METRIC_NAMES, MinerMetricsSampler, requestsByStatus } from "./cloudwatch-metrics.ts";

const byName = (data: { MetricName?: string; Value?: number }[]) =>
  Object.fromEntries(data.map((d) => [d.MetricName, d.Value]));

test("each sample covers only the requests since the previous one; 4xx are not miner errors", () => {
  const metrics = new AxonMetrics();
  metrics.observe(200, 0.05);
  let age = 12_000;
  const sampler = new MinerMetricsSampler(metrics, () => age, { Stage: "mainnet" });

  for (let i = 0; i < 9; i++) metrics.observe(200, 0.1 + i * 0.01);
  metrics.observe(503, 0.001);
  metrics.observe(403, 0.001);
  metrics.observe(401, 0.001);
  assert.deepEqual(
    [...requestsByStatus(metrics)].sort((a, b) => a[0] - b[0]),
    [
      [200, 10],
      [401, 1],
      [403, 1],
      [503, 1],
    ],
  );
  const first = sampler.sample(new Date(0));
  const values = byName(first);
  assert.equal(values[METRIC_NAMES.answersOk], 9);
  assert.equal(values[METRIC_NAMES.errorRate], 0.1);
  assert.ok(Math.abs((values[METRIC_NAMES.latencyP99] ?? 0) - 180) < 1e-9);
  assert.equal(values[METRIC_NAMES.metagraphAgeSeconds], 12);
  for (const d of first) assert.deepEqual(d.Dimensions, [{ Name: "Stage", Value: "mainnet" }]);

  // A quiet interval still reports zero answers (the alarm's signal) but no error rate.
  age = Number.POSITIVE_INFINITY;
  const quiet = byName(sampler.sample());
  assert.equal(quiet[METRIC_NAMES.answersOk], 0);
  assert.equal(quiet[METRIC_NAMES.errorRate], undefined);
  assert.equal(quiet[METRIC_NAMES.metagraphAgeSeconds], undefined);
});

test("the names published are the names the alarms watch (stacks/config.ts)", () => {
  assert.deepEqual(
    Object.values(METRIC_NAMES).sort(),
    [
      MINER_METRICS.answersOk,
      MINER_METRICS.errorRate,
      MINER_METRICS.latencyP99,
      MINER_METRICS.metagraphAgeSeconds,
      MINER_METRICS.validatorChallenges,
    ].sort(),
  );
  assert.equal(MINER_METRICS.dimension, METRIC_DIMENSIONS.stage);
  assert.equal(MINER_METRICS.axonPortDimension, METRIC_DIMENSIONS.axonPort);
});

test("several hotkeys: stage totals over all axons, the slowest p99, and each axon's own AnswersOk", () => {
  const a = new AxonMetrics();
  const b = new AxonMetrics();
  const sampler = new MinerMetricsSampler(
    [
      { metrics: a, dimensions: { AxonPort: "8091" } },
      { metrics: b, dimensions: { AxonPort: "8092" } },
    ],
    () => 1_000,
    { Stage: "mainnet" },
  );
  for (let i = 0; i < 4; i++) a.observe(200, 0.1);
  b.observe(200, 0.5);
  b.observe(500, 0.01);
  const data = sampler.sample(new Date(0));
  const answers = data
    .filter((d) => d.MetricName === METRIC_NAMES.answersOk)
    .map((d) => [d.Dimensions?.map((x) => `${x.Name}=${x.Value}`).join(","), d.Value]);
  assert.deepEqual(answers, [
    ["Stage=mainnet", 5],
    ["Stage=mainnet,AxonPort=8091", 4],
    ["Stage=mainnet,AxonPort=8092", 1],
  ]);
  const stage = byName(data.filter((d) => d.Dimensions?.length === 1));
  assert.equal(stage[METRIC_NAMES.errorRate], 1 / 6);
  assert.ok(Math.abs((stage[METRIC_NAMES.latencyP99] ?? 0) - 500) < 1e-9, "the slowest axon's p99");
  // A hotkey that stops answering shows as zero on its own series while the stage total still moves.
  a.observe(200, 0.1);
  const next = sampler.sample(new Date(60_000)).filter((d) => d.MetricName === METRIC_NAMES.answersOk);
  assert.deepEqual(
    next.map((d) => d.Value),
    [1, 1, 0],
  );
});
