// In-process axon metrics rendered in the Prometheus text format (served by the admin listener, never the public one).

const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 9, 12];
const RECENT_LATENCIES = 2048;

export interface MetricsGauges {
  queueDepth(): number;
  activeScoring(): number;
  modelVersion(): string;
  metagraphAgeS(): number | undefined;
  metagraphBlock(): number;
}

export class AxonMetrics {
  readonly #byStatus = new Map<number, number>();
  readonly #bucketCounts = new Array<number>(LATENCY_BUCKETS_S.length).fill(0);
  readonly #recent = new Float64Array(RECENT_LATENCIES);
  #recentCount = 0;
  #latencySum = 0;
  #latencyCount = 0;
  #predictions = 0;
  #sinkDropped = 0;
  #sinkFailed = 0;
  #gauges: MetricsGauges | undefined;

  bindGauges(gauges: MetricsGauges): void {
    this.#gauges = gauges;
  }

  /** One finished request (any status) and its server-side latency. */
  observe(status: number, latencyS: number): void {
    this.#byStatus.set(status, (this.#byStatus.get(status) ?? 0) + 1);
    this.#latencySum += latencyS;
    this.#latencyCount++;
    for (let i = 0; i < LATENCY_BUCKETS_S.length; i++) {
      if (latencyS <= LATENCY_BUCKETS_S[i]!) this.#bucketCounts[i]!++;
    }
    if (status === 200) {
      this.#recent[this.#recentCount % RECENT_LATENCIES] = latencyS;
      this.#recentCount++;
    }
  }

  prediction(): void {
    this.#predictions++;
  }

  sinkDropped(): void {
    this.#sinkDropped++;
  }

  sinkFailed(): void {
    this.#sinkFailed++;
  }

  count(status: number): number {
    return this.#byStatus.get(status) ?? 0;
  }

  /** Quantile (0..1) of the latency of recent successful requests, in seconds. */
  latencyQuantile(q: number): number | undefined {
    const n = Math.min(this.#recentCount, RECENT_LATENCIES);
    if (n === 0) return undefined;
    const sorted = Array.from(this.#recent.subarray(0, n)).sort((a, b) => a - b);
    return sorted[Math.min(n - 1, Math.floor(q * n))];
  }

  render(): string {
    const out: string[] = [];
    out.push("# HELP roadwork_axon_requests_total Requests answered, by HTTP status.");
    out.push("# TYPE roadwork_axon_requests_total counter");
    for (const [status, n] of [...this.#byStatus].sort((a, b) => a[0] - b[0])) {
      out.push(`roadwork_axon_requests_total{status="${status}"} ${n}`);
    }
    out.push("# HELP roadwork_axon_request_duration_seconds Server-side request latency.");
    out.push("# TYPE roadwork_axon_request_duration_seconds histogram");
    LATENCY_BUCKETS_S.forEach((le, i) => {
      out.push(`roadwork_axon_request_duration_seconds_bucket{le="${le}"} ${this.#bucketCounts[i]}`);
    });
    out.push(`roadwork_axon_request_duration_seconds_bucket{le="+Inf"} ${this.#latencyCount}`);
    out.push(`roadwork_axon_request_duration_seconds_sum ${this.#latencySum}`);
    out.push(`roadwork_axon_request_duration_seconds_count ${this.#latencyCount}`);
    out.push("# HELP roadwork_axon_success_latency_seconds Latency quantiles of the last 2048 successful requests.");
    out.push("# TYPE roadwork_axon_success_latency_seconds summary");
    for (const q of [0.5, 0.9, 0.99]) {
      const v = this.latencyQuantile(q);
      if (v !== undefined) out.push(`roadwork_axon_success_latency_seconds{quantile="${q}"} ${v}`);
    }
    out.push("# TYPE roadwork_axon_predictions_total counter");
    out.push(`roadwork_axon_predictions_total ${this.#predictions}`);
    out.push("# TYPE roadwork_axon_prediction_records_dropped_total counter");
    out.push(`roadwork_axon_prediction_records_dropped_total ${this.#sinkDropped}`);
    out.push("# TYPE roadwork_axon_prediction_records_failed_total counter");
    out.push(`roadwork_axon_prediction_records_failed_total ${this.#sinkFailed}`);
    const g = this.#gauges;
    if (g) {
      out.push("# TYPE roadwork_axon_queue_depth gauge");
      out.push(`roadwork_axon_queue_depth ${g.queueDepth()}`);
      out.push("# TYPE roadwork_axon_scoring_active gauge");
      out.push(`roadwork_axon_scoring_active ${g.activeScoring()}`);
      out.push("# HELP roadwork_axon_model_info The model version currently serving (value is always 1).");
      out.push("# TYPE roadwork_axon_model_info gauge");
      out.push(`roadwork_axon_model_info{version="${escapeLabel(g.modelVersion())}"} 1`);
      const age = g.metagraphAgeS();
      out.push("# TYPE roadwork_axon_metagraph_block gauge");
      out.push(`roadwork_axon_metagraph_block ${g.metagraphBlock()}`);
      if (age !== undefined) {
        out.push("# TYPE roadwork_axon_metagraph_age_seconds gauge");
        out.push(`roadwork_axon_metagraph_age_seconds ${age}`);
      }
    }
    return `${out.join("\n")}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
