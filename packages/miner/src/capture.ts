// Keeps challenge images for the flywheel, off the answer path. On the request, `offer` only compares the score with
// the band around the threshold (or draws the seeded sample) and pushes a reference into a bounded queue; hashing,
// dedup, format inspection and the store write happen later on a background writer. A full queue drops the capture,
// a failing or hanging store loses the capture: both are counted, neither ever touches an answer.
import { createHash } from "node:crypto";
import { z } from "zod";
import { type CaptureRecord, CaptureRecordSchema, captureFileName, inspectChallengeImage } from "./capture-record.ts";
import type { CaptureStore } from "./capture-store.ts";
import type { AxonLogger } from "./logger.ts";

export const CaptureConfigSchema = z
  .object({
    /** The score at which the answer flips: 0.5, since the served score is calibrated to it. */
    threshold: z.number().min(0).max(1).default(0.5),
    /** Every challenge with |score − threshold| ≤ band is kept. */
    band: z.number().min(0).max(0.5).default(0.15),
    /** Fraction of the other challenges kept, drawn by a seeded generator. */
    sampleRate: z.number().min(0).max(1).default(0.03),
    seed: z.union([z.number().int(), z.string()]).default(1),
    /** Captures waiting for the writer; beyond either bound new ones are dropped (and counted). */
    maxQueued: z.number().int().min(1).default(256),
    maxQueuedBytes: z
      .number()
      .int()
      .min(1024)
      .default(64 * 1024 * 1024),
    /** A store write still running after this is abandoned and counted as failed. */
    putTimeoutMs: z.number().int().min(1).default(30_000),
    /** Store writes in flight at once. */
    concurrency: z.number().int().min(1).max(16).default(2),
    /** How many recent image hashes dedup remembers. */
    dedupMemory: z.number().int().min(1).default(100_000),
  })
  .strict();
export type CaptureConfig = z.infer<typeof CaptureConfigSchema>;
export type CaptureConfigInput = z.input<typeof CaptureConfigSchema>;

/** What the axon knows about an answered challenge. */
export interface ChallengeFacts {
  requestId: string;
  /** Unix ms. */
  receivedAt: number;
  score: number;
  prediction: number;
  modelVersion: string;
  callerHotkey: string;
  callerUid: number | undefined;
  /** As sent by the validator: -1 when absent (always, today). */
  testnetLabel: number;
  /** When the caller already hashed the image. */
  imageSha256?: string;
}

/** The axon's view of a capture: one synchronous, never-throwing call per answered challenge. */
export interface ChallengeSampler {
  offer(image: Uint8Array, facts: ChallengeFacts): void;
  /** Prometheus text lines for /metrics. */
  renderMetrics(): string;
}

export interface CaptureStats {
  offered: number;
  /** Accepted into the queue (near the threshold or sampled). */
  queued: number;
  sampledOut: number;
  /** Queue full (count or bytes). */
  dropped: number;
  duplicates: number;
  written: number;
  /** The store threw, timed out, or the image could not be read. */
  failed: number;
}

interface Pending {
  image: Uint8Array;
  facts: ChallengeFacts;
  reason: CaptureRecord["reason"];
}

export interface ChallengeCaptureOptions {
  store: CaptureStore;
  config?: CaptureConfigInput;
  logger?: AxonLogger;
}

export class ChallengeCapture implements ChallengeSampler {
  readonly config: CaptureConfig;
  readonly stats: CaptureStats = {
    offered: 0,
    queued: 0,
    sampledOut: 0,
    dropped: 0,
    duplicates: 0,
    written: 0,
    failed: 0,
  };
  readonly #store: CaptureStore;
  readonly #logger: AxonLogger | undefined;
  readonly #random: () => number;
  #queue: Pending[] = [];
  #queuedBytes = 0;
  #active = 0;
  #closed = false;
  #seen = new Set<string>();
  #idle: (() => void)[] = [];

  constructor(options: ChallengeCaptureOptions) {
    const parsed = CaptureConfigSchema.safeParse(options.config ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
      throw new Error(`invalid capture configuration: ${issues}`);
    }
    this.config = parsed.data;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#random = seededRandom(String(this.config.seed));
  }

  get where(): string {
    return this.#store.where;
  }

  /** Captures waiting or being written. */
  get pending(): number {
    return this.#queue.length + this.#active;
  }

  offer(image: Uint8Array, facts: ChallengeFacts): void {
    try {
      if (this.#closed) return;
      this.stats.offered++;
      const { threshold, band, sampleRate } = this.config;
      const near = Math.abs(facts.score - threshold) <= band;
      // One draw per challenge outside the band, so the sample depends only on the seed and the challenge order.
      if (!near && !(this.#random() < sampleRate)) {
        this.stats.sampledOut++;
        return;
      }
      if (
        this.#queue.length >= this.config.maxQueued ||
        this.#queuedBytes + image.byteLength > this.config.maxQueuedBytes
      ) {
        this.stats.dropped++;
        return;
      }
      this.#queue.push({ image, facts, reason: near ? "near-threshold" : "sampled" });
      this.#queuedBytes += image.byteLength;
      this.stats.queued++;
      if (this.#active < this.config.concurrency) setImmediate(() => this.#drain());
    } catch {
      // Nothing here may reach the answer; a capture that could not even be queued is a dropped capture.
      this.stats.dropped++;
    }
  }

  /** Resolves when everything queued so far has been written or given up. */
  async flush(): Promise<void> {
    if (this.pending === 0) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Stops taking captures and waits (up to `graceMs`) for the queue to drain. */
  async close(graceMs = 10_000): Promise<void> {
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.flush(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  renderMetrics(): string {
    const s = this.stats;
    const lines = [
      "# HELP roadwork_axon_captures_total Challenge captures, by outcome.",
      "# TYPE roadwork_axon_captures_total counter",
      ...(["offered", "queued", "sampledOut", "dropped", "duplicates", "written", "failed"] as const).map(
        (k) => `roadwork_axon_captures_total{outcome="${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}"} ${s[k]}`,
      ),
      "# TYPE roadwork_axon_captures_pending gauge",
      `roadwork_axon_captures_pending ${this.pending}`,
    ];
    return `${lines.join("\n")}\n`;
  }

  async #drain(): Promise<void> {
    if (this.#active >= this.config.concurrency) return;
    const item = this.#queue.shift();
    if (!item) return;
    this.#active++;
    try {
      await this.#write(item);
    } finally {
      this.#queuedBytes -= item.image.byteLength;
      this.#active--;
      if (this.#queue.length > 0) setImmediate(() => this.#drain());
      else if (this.#active === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #write({ image, facts, reason }: Pending): Promise<void> {
    const sha256 = facts.imageSha256 ?? createHash("sha256").update(image).digest("hex");
    if (this.#seen.has(sha256)) {
      this.stats.duplicates++;
      return;
    }
    this.#remember(sha256);
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      const info = await inspectChallengeImage(image);
      const record: CaptureRecord = CaptureRecordSchema.parse({
        schemaVersion: 1,
        sha256,
        file: captureFileName(sha256, info.format),
        mediaType: `image/${info.format}`,
        width: info.width,
        height: info.height,
        byteLength: image.byteLength,
        capturedAt: new Date(facts.receivedAt).toISOString(),
        requestId: facts.requestId,
        score: facts.score,
        prediction: facts.prediction,
        modelVersion: facts.modelVersion,
        callerHotkey: facts.callerHotkey,
        callerUid: facts.callerUid ?? null,
        validatorFormat: info.validatorFormat,
        testnetLabel: facts.testnetLabel === 0 || facts.testnetLabel === 1 ? facts.testnetLabel : null,
        reason,
      });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(new Error(`store write took longer than ${this.config.putTimeoutMs} ms`));
        }, this.config.putTimeoutMs);
      });
      await Promise.race([this.#store.put(record, image, controller.signal), timeout]);
      this.stats.written++;
    } catch (error) {
      this.stats.failed++;
      this.#seen.delete(sha256); // a later copy of the same image may still make it
      this.#logger?.warn("challenge capture lost", { sha256, store: this.#store.where, error: String(error) });
    } finally {
      clearTimeout(timer);
    }
  }

  #remember(sha256: string): void {
    this.#seen.add(sha256);
    if (this.#seen.size > this.config.dedupMemory) {
      const oldest = this.#seen.values().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
  }
}

/** mulberry32 over a string seed: reproducible sampling, no dependency. */
function seededRandom(seed: string): () => number {
  let h = 1779033703 ^ seed.length;
  for (let i = 0; i < seed.length; i++) {
    h = Math.imul(h ^ seed.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CaptureEnv {
  bucket: string;
  prefix: string;
  config: CaptureConfigInput;
}

const CaptureEnvSchema = z.object({
  ROADWORK_CAPTURE_BUCKET: z.string().min(3).optional(),
  ROADWORK_CAPTURE_PREFIX: z
    .string()
    .regex(/^[\w./-]*$/)
    .default("captures/"),
  ROADWORK_CAPTURE_BAND: z.coerce.number().min(0).max(0.5).optional(),
  ROADWORK_CAPTURE_SAMPLE_RATE: z.coerce.number().min(0).max(1).optional(),
  AWS_REGION: z.string().optional(),
});

/**
 * The capture settings of a container: off unless ROADWORK_CAPTURE_BUCKET is set. Throws one Error naming every bad
 * variable, for the composition root to fail fast with.
 */
export function captureEnv(env: Record<string, string | undefined>): CaptureEnv | undefined {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ""));
  const parsed = CaptureEnvSchema.safeParse(present);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  ${String(i.path[0])}: ${i.message}`).join("\n");
    throw new Error(`challenge capture is misconfigured:\n${issues}`);
  }
  const e = parsed.data;
  if (!e.ROADWORK_CAPTURE_BUCKET) return undefined;
  if (!e.AWS_REGION) throw new Error("challenge capture is misconfigured:\n  AWS_REGION: is required to write to S3");
  return {
    bucket: e.ROADWORK_CAPTURE_BUCKET,
    prefix: e.ROADWORK_CAPTURE_PREFIX,
    config: {
      ...(e.ROADWORK_CAPTURE_BAND !== undefined ? { band: e.ROADWORK_CAPTURE_BAND } : {}),
      ...(e.ROADWORK_CAPTURE_SAMPLE_RATE !== undefined ? { sampleRate: e.ROADWORK_CAPTURE_SAMPLE_RATE } : {}),
    },
  };
}
