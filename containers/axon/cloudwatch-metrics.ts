// Turns the axon's in-process counters into the CloudWatch metrics the alarms stack watches (stacks/Alarms.ts):
// AnswersOk (successful answers per interval), ErrorRate (5xx share of answered requests), LatencyP99 (ms, recent
// successful requests) and MetagraphAgeSeconds. Publishing never throws into the axon: a failed put is logged.
import { type CloudWatchClient, type MetricDatum, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import type { AxonLogger, AxonMetrics } from "@roadwork/miner";

export const METRIC_NAMES = {
  answersOk: "AnswersOk",
  errorRate: "ErrorRate",
  latencyP99: "LatencyP99",
  metagraphAgeSeconds: "MetagraphAgeSeconds",
  validatorChallenges: "ValidatorChallenges",
} as const;

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

/**
 * Samples one interval's worth of metric data. Requests refused for the caller's fault (4xx: unsigned, stale nonce,
 * not a validator) are not errors of the miner and stay out of ErrorRate.
 */
export class MinerMetricsSampler {
  #last: Totals;

  constructor(
    private readonly metrics: AxonMetrics,
    private readonly metagraphAgeMs: () => number | undefined,
    private readonly dimensions: Record<string, string>,
    /** Challenges from permitted validators since the last sample (containers/axon/validator-challenges.ts). */
    private readonly validatorChallenges?: () => number,
  ) {
    this.#last = totals(requestsByStatus(metrics));
  }

  sample(timestamp: Date = new Date()): MetricDatum[] {
    const now = totals(requestsByStatus(this.metrics));
    const ok = now.ok - this.#last.ok;
    const serverErrors = now.serverErrors - this.#last.serverErrors;
    this.#last = now;
    const Dimensions = Object.entries(this.dimensions).map(([Name, Value]) => ({ Name, Value }));
    const datum = (MetricName: string, Value: number, Unit: MetricDatum["Unit"]): MetricDatum => ({
      MetricName,
      Value,
      Unit,
      Timestamp: timestamp,
      Dimensions,
    });
    // AnswersOk is sent even when zero: silence is what the alarm exists to catch.
    const data = [datum(METRIC_NAMES.answersOk, ok, "Count")];
    if (this.validatorChallenges) {
      data.push(datum(METRIC_NAMES.validatorChallenges, this.validatorChallenges(), "Count"));
    }
    if (ok + serverErrors > 0) data.push(datum(METRIC_NAMES.errorRate, serverErrors / (ok + serverErrors), "None"));
    const p99 = this.metrics.latencyQuantile(0.99);
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
