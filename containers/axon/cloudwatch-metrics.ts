// Turns the axon's in-process counters into the CloudWatch metrics the alarms stack watches (stacks/Alarms.ts):
// AnswersOk (successful answers per interval), ErrorRate (5xx share of answered requests), LatencyP99 (ms, recent
// successful requests) and MetagraphAgeSeconds. Publishing never throws into the axon: a failed put is logged.
// With several hotkeys (one axon each) the stage figures cover them all (p99: the slowest axon's), and each axon's
// AnswersOk is also sent with its own dimension (AxonPort), so one hotkey that stops answering shows.
import { type CloudWatchClient, type MetricDatum, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import type { AxonLogger, AxonMetrics } from "@roadwork/miner";

export const METRIC_NAMES = {
  answersOk: "AnswersOk",
  errorRate: "ErrorRate",
  latencyP99: "LatencyP99",
  metagraphAgeSeconds: "MetagraphAgeSeconds",
  validatorChallenges: "ValidatorChallenges",
} as const;

/** Dimensions: every datum carries Stage; with several hotkeys each axon's own AnswersOk also carries AxonPort. */
export const METRIC_DIMENSIONS = { stage: "Stage", axonPort: "AxonPort" } as const;

const STATUS_LINE = /^roadwork_axon_requests_total\{status="(\d{3})"\} (\d+)$/gm;

/** Requests answered so far, by HTTP status, read from the axon's Prometheus rendition. */
export function requestsByStatus(metrics: AxonMetrics): Map<number, number> {
  const counts = new Map<number, number>();
  for (const match of metrics.render().matchAll(STATUS_LINE)) counts.set(Number(match[1]), Number(match[2]));
  return counts;
}

interface Totals {
  ok: number;
  serverErrors: number;
}

function totals(byStatus: Map<number, number>): Totals {
  let serverErrors = 0;
  for (const [status, n] of byStatus) if (status >= 500) serverErrors += n;
  return { ok: byStatus.get(200) ?? 0, serverErrors };
}

/** One axon whose answers the sampler reads; `dimensions` (e.g. {AxonPort: "8092"}) add its own AnswersOk series. */
export interface SampledAxon {
  metrics: AxonMetrics;
  dimensions?: Record<string, string>;
}

const sum = (parts: Totals[]): Totals =>
  parts.reduce((a, b) => ({ ok: a.ok + b.ok, serverErrors: a.serverErrors + b.serverErrors }), {
    ok: 0,
    serverErrors: 0,
  });

/**
 * Samples one interval's worth of metric data. Requests refused for the caller's fault (4xx: unsigned, stale nonce,
 * not a validator) are not errors of the miner and stay out of ErrorRate.
 */
export class MinerMetricsSampler {
  readonly #axons: readonly SampledAxon[];
  #last: Totals[];

  constructor(
    axons: AxonMetrics | readonly SampledAxon[],
    private readonly metagraphAgeMs: () => number | undefined,
    private readonly dimensions: Record<string, string>,
    /** Challenges from permitted validators since the last sample (containers/axon/validator-challenges.ts). */
    private readonly validatorChallenges?: () => number,
  ) {
    this.#axons = Array.isArray(axons) ? axons : [{ metrics: axons as AxonMetrics }];
    this.#last = this.#axons.map((a) => totals(requestsByStatus(a.metrics)));
  }

  sample(timestamp: Date = new Date()): MetricDatum[] {
    const now = this.#axons.map((a) => totals(requestsByStatus(a.metrics)));
    const delta = now.map((t, i) => ({
      ok: t.ok - (this.#last[i]?.ok ?? 0),
      serverErrors: t.serverErrors - (this.#last[i]?.serverErrors ?? 0),
    }));
    const { ok, serverErrors } = sum(delta);
    this.#last = now;
    const datum = (
      MetricName: string,
      Value: number,
      Unit: MetricDatum["Unit"],
      extra: Record<string, string> = {},
    ): MetricDatum => ({
      MetricName,
      Value,
      Unit,
      Timestamp: timestamp,
      Dimensions: Object.entries({ ...this.dimensions, ...extra }).map(([Name, Value]) => ({ Name, Value })),
    });
    // AnswersOk is sent even when zero: silence is what the alarm exists to catch.
    const data = [datum(METRIC_NAMES.answersOk, ok, "Count")];
    for (const [i, axon] of this.#axons.entries()) {
      if (axon.dimensions) data.push(datum(METRIC_NAMES.answersOk, delta[i]?.ok ?? 0, "Count", axon.dimensions));
    }
    if (this.validatorChallenges) {
      data.push(datum(METRIC_NAMES.validatorChallenges, this.validatorChallenges(), "Count"));
    }
    if (ok + serverErrors > 0) data.push(datum(METRIC_NAMES.errorRate, serverErrors / (ok + serverErrors), "None"));
    const p99s = this.#axons.map((a) => a.metrics.latencyQuantile(0.99)).filter((q) => q !== undefined);
    const p99 = p99s.length > 0 ? Math.max(...p99s) : undefined;
    if (p99 !== undefined) data.push(datum(METRIC_NAMES.latencyP99, p99 * 1000, "Milliseconds"));
    const age = this.metagraphAgeMs();
    if (age !== undefined && Number.isFinite(age)) {
      data.push(datum(METRIC_NAMES.metagraphAgeSeconds, age / 1000, "Seconds"));
    }
    return data;
  }
}

export interface MetricsPublisher {
  /** Publishes a last sample and stops the timer. */
  stop(): Promise<void>;
}

export function startMetricsPublisher(options: {
  client: CloudWatchClient;
  namespace: string;
  sampler: MinerMetricsSampler;
  intervalMs: number;
  logger: AxonLogger;
}): MetricsPublisher {
  const { client, namespace, sampler, logger } = options;
  const publish = async () => {
    try {
      await client.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: sampler.sample() }));
    } catch (error) {
      logger.warn("could not publish CloudWatch metrics", { namespace, error: (error as Error).message });
    }
  };
  const timer = setInterval(() => void publish(), options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await publish();
    },
  };
}
