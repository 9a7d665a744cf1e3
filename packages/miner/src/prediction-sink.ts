// Hands prediction records to an async sink (S3 export, hard-case miner, a file) without ever delaying or failing the
// response: records are dispatched after the reply, bounded in number, and sink errors are only counted and logged.
import type { AxonLogger } from "./logger.ts";
import type { AxonMetrics } from "./metrics.ts";

export interface PredictionRecord {
  requestId: string;
  /** Unix ms when the request arrived. */
  receivedAt: number;
  /** sha256 of the decoded image bytes, lowercase hex. */
  imageSha256: string;
  imageBytes: number;
  /** The scorer's output before the wire guard. */
  score: number;
  /** The value sent to the validator. */
  prediction: number;
  modelVersion: string;
  cached: boolean;
  latencyMs: number;
  callerHotkey: string;
  callerUid: number | undefined;
  dendriteUuid: string | undefined;
}

export type PredictionSink = (record: PredictionRecord) => void | Promise<void>;

export class PredictionDispatcher {
  #pending = 0;

  constructor(
    private readonly sink: PredictionSink | undefined,
    private readonly maxPending: number,
    private readonly metrics: AxonMetrics,
    private readonly logger: AxonLogger,
  ) {}

  /** False without a sink: callers skip building records (and hashing images) altogether. */
  get enabled(): boolean {
    return this.sink !== undefined;
  }

  get pending(): number {
    return this.#pending;
  }

  dispatch(record: PredictionRecord): void {
    const sink = this.sink;
    if (!sink) return;
    if (this.#pending >= this.maxPending) {
      this.metrics.sinkDropped();
      return;
    }
    this.#pending++;
    setImmediate(() => {
      Promise.resolve()
        .then(() => sink(record))
        .catch((error: unknown) => {
          this.metrics.sinkFailed();
          this.logger.warn("prediction record sink failed", { requestId: record.requestId, error });
        })
        .finally(() => {
          this.#pending--;
        });
    });
  }
}
