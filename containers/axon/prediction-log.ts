// Prediction records to S3 as JSON Lines, in batches: one object per flush under <prefix>YYYY/MM/DD/, so the daily
// export lists one day's prefix and the bucket's 30-day expiry rule applies. Records wait in a bounded buffer; when
// S3 is unreachable the oldest are dropped (and counted) rather than growing memory. Never throws into the axon.
import { randomUUID } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { AxonLogger, PredictionRecord } from "@roadwork/miner";

export interface PredictionLogOptions {
  s3: S3Client;
  bucket: string;
  /** Key prefix, e.g. "raw/". */
  prefix: string;
  logger: AxonLogger;
  /** Flush when this many records wait (default 500). */
  batchSize?: number;
  /** Flush at least this often while records wait (default 5 minutes). */
  flushIntervalMs?: number;
  /** Records kept while S3 fails (default 20 000). */
  maxBuffered?: number;
  now?: () => Date;
}

export class S3PredictionLog {
  readonly #options: Required<Omit<PredictionLogOptions, "logger" | "s3">> &
    Pick<PredictionLogOptions, "logger" | "s3">;
  #buffer: PredictionRecord[] = [];
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  dropped = 0;
  written = 0;

  constructor(options: PredictionLogOptions) {
    this.#options = {
      batchSize: 500,
      flushIntervalMs: 5 * 60_000,
      maxBuffered: 20_000,
      now: () => new Date(),
      ...options,
    };
    this.#timer = setInterval(() => void this.flush(), this.#options.flushIntervalMs);
    this.#timer.unref();
  }

  /** The axon's PredictionSink. */
  readonly append = (record: PredictionRecord): void => {
    this.#buffer.push(record);
    const excess = this.#buffer.length - this.#options.maxBuffered;
    if (excess > 0) {
      this.#buffer.splice(0, excess);
      this.dropped += excess;
    }
    if (this.#buffer.length >= this.#options.batchSize) void this.flush();
  };

  get pending(): number {
    return this.#buffer.length;
  }

  /** Writes what waits as one object; concurrent callers share the write in progress. */
  flush(): Promise<void> {
    this.#flushing ??= this.#write().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flushing;
    await this.flush();
  }

  async #write(): Promise<void> {
    if (this.#buffer.length === 0) return;
    const batch = this.#buffer;
    this.#buffer = [];
    const { s3, bucket, prefix, logger } = this.#options;
    const at = this.#options.now();
    const day = at.toISOString().slice(0, 10).replaceAll("-", "/");
    const key = `${prefix}${day}/${at.toISOString().replaceAll(":", "")}-${randomUUID()}.jsonl`;
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: `${batch.map((r) => JSON.stringify(r)).join("\n")}\n`,
          ContentType: "application/x-ndjson",
        }),
      );
      this.written += batch.length;
    } catch (error) {
      // Put the batch back in front of newer records; the bound applies on the next append.
      this.#buffer = batch.concat(this.#buffer);
      logger.warn("could not write prediction records; will retry", {
        bucket,
        records: batch.length,
        error: (error as Error).message,
      });
    }
  }
}
