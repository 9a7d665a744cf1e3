// The inference engine over one loaded bundle: decode → preprocess → micro-batched onnxruntime runs across
// concurrent callers → ensemble + TTA combination → calibration. Results are cached by image hash.
//
// Batching is continuous: an idle engine runs a request at once; whatever arrives while a run is in flight is run as
// one batch (up to maxBatch) as soon as it finishes. A lone request therefore never waits, and under load batches
// form by themselves. maxWaitMs > 0 adds the older fixed wait for company before a run from an idle engine.
import { BundleError, bundleVersion, type Manifest } from "./bundle/manifest.ts";
import { calibrate, logit, sigmoid } from "./calibration.ts";
import { type DecodeOptions, decodedPixels, decodeImage, type RgbImage } from "./image/decode.ts";
import { imageSha256 } from "./image/hash.ts";
import { geometry, resizeTarget, writeHwc, writeNormalized } from "./image/preprocess.ts";
import { type MemberOptions, MemberRunner } from "./member.ts";
import { probeImages } from "./probe.ts";
import type { ScoreOptions, ScoreResult, Scorer } from "./scorer.ts";
import type { Device, SessionOptions } from "./session.ts";

export interface EngineOptions extends SessionOptions {
  /** Most images per onnxruntime run (default 8). */
  maxBatch?: number;
  /** How long an image arriving at an idle engine waits for company before its run starts (default 0: none). */
  maxWaitMs?: number;
  /**
   * Batch sizes (in images) every run is padded up to, each on its own session, so onnxruntime sees a few fixed
   * shapes only. "auto" (default): [1, maxBatch] on CUDA, none on CPU; "off": none; a list: those, on any device.
   */
  batchBuckets?: "auto" | "off" | readonly number[];
  /** Entries in the image-hash result cache (default 1024; 0 disables). */
  cacheSize?: number;
  /** Preprocessing inside the ONNX graph (uint8 NHWC in): "auto" on CUDA (default), "always", "never". */
  preprocessInGraph?: "auto" | "always" | "never";
  decode?: DecodeOptions;
}

/** A bundle whose files are on local disk and verified. */
export interface LocalBundle {
  manifest: Manifest;
  dir: string;
}

/** The model produced NaN (or an unusable value) for an image. Not the caller's fault: answer 500. */
export class ModelOutputError extends Error {
  override readonly name = "ModelOutputError";
}

/** score() on an engine that is closing or closed. ModelHost never routes new calls to such an engine. */
export class EngineClosedError extends Error {
  override readonly name = "EngineClosedError";
}

export interface EngineStats {
  requests: number;
  cacheHits: number;
  batches: number;
  batchedImages: number;
  failures: number;
  inFlight: number;
  /** Runs started the moment a request arrived at an idle engine (no wait). */
  runsOnArrival: number;
  /** Runs started by the maxWaitMs timer. */
  runsAfterWait: number;
  /** Runs of requests that queued while another run was in flight, started as soon as it finished. */
  runsAfterRun: number;
  /** Zero rows added to fill batch buckets, over all members (their results are discarded). */
  paddedRows: number;
}

/** Geometry-stage pixels (resized, cropped or letterboxed uint8 RGB) per distinct preprocessing spec. */
type Prepared = Map<string, RgbImage>;

interface Pending {
  views: Prepared;
  resolve: (z: number) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Small LRU on Map insertion order. */
class LruCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, value: V): void {
    if (this.capacity <= 0) return;
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }
  get size(): number {
    return this.map.size;
  }
}

export class OnnxScorer implements Scorer {
  readonly modelVersion: string;
  /** Median single-image latency on the probe images, measured at load (after warm-up). */
  probeLatencyMs = 0;
  /** Calibrated scores of the probe images, for range checks before a hot swap. */
  probeScores: number[] = [];

  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closing = false;
  private closed: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  private readonly cache: LruCache<number>;
  private readonly maxBatch: number;
  private readonly maxWaitMs: number;
  private readonly counters = {
    requests: 0,
    cacheHits: 0,
    batches: 0,
    batchedImages: 0,
    failures: 0,
    runsOnArrival: 0,
    runsAfterWait: 0,
    runsAfterRun: 0,
  };
  private inFlight = 0;
  private readonly specs: Map<string, MemberRunner["spec"]>;

  private constructor(
    readonly manifest: Manifest,
    private readonly members: MemberRunner[],
    private readonly options: EngineOptions,
  ) {
    this.modelVersion = bundleVersion(manifest);
    this.maxBatch = Math.max(1, options.maxBatch ?? 8);
    this.maxWaitMs = Math.max(0, options.maxWaitMs ?? 0);
    this.cache = new LruCache(options.cacheSize ?? 1024);
    this.specs = new Map(members.map((m) => [m.specKey, m.spec]));
  }

  /** Loads every member's sessions, then probes the whole pipeline (which also warms it up). */
  static async load(bundle: LocalBundle, options: EngineOptions = {}): Promise<OnnxScorer> {
    const members: MemberRunner[] = [];
    const maxBatch = Math.max(1, options.maxBatch ?? 8);
    const choice = options.batchBuckets ?? "auto";
    // Buckets count images; a member runs one row per TTA view of each image.
    const images = choice === "off" ? undefined : choice === "auto" ? [1, maxBatch] : choice;
    const views = bundle.manifest.tta.length;
    const memberOptions =
      images === undefined
        ? options
        : { ...options, batchBuckets: images.map((b) => b * views), bucketsOn: choice === "auto" ? "cuda" : "any" };
    try {
      for (const member of bundle.manifest.members) {
        members.push(await MemberRunner.load(member, bundle.dir, memberOptions as MemberOptions));
      }
      const engine = new OnnxScorer(bundle.manifest, members, options);
      await engine.probe();
      return engine;
    } catch (error) {
      await Promise.all(members.map((m) => m.release().catch(() => {})));
      throw error;
    }
  }

  /** Where the sessions run; "cpu" when any member fell back. */
  get device(): Device {
    return this.members.every((m) => m.device === "cuda") ? "cuda" : "cpu";
  }

  get fallbackReason(): string | undefined {
    return this.members.find((m) => m.fallbackReason)?.fallbackReason;
  }

  get stats(): EngineStats {
    const paddedRows = this.members.reduce((sum, m) => sum + m.paddedRows, 0);
    return { ...this.counters, inFlight: this.inFlight, paddedRows };
  }

  /** Every batch size (rows, TTA views included) onnxruntime has been given, over all members, ascending. */
  get shapesRun(): number[] {
    const all = new Set<number>();
    for (const m of this.members) for (const rows of m.shapesRun) all.add(rows);
    return [...all].sort((a, b) => a - b);
  }

  /** The padded batch sizes in rows, per member id; empty when no member pads. */
  get batchBuckets(): Record<string, readonly number[]> {
    const out: Record<string, readonly number[]> = {};
    for (const m of this.members) if (m.buckets) out[m.id] = m.buckets;
    return out;
  }

  /** Runs the probe images together (warming the largest bucket when padding), then one by one (the smallest). */
  private async probe(): Promise<void> {
    const probes = probeImages();
    const views = probes.map((p) => this.prepare(p.image));
    let zs: Float64Array;
    try {
      zs = await this.infer(views);
    } catch (error) {
      throw new BundleError(`${this.modelVersion}: running the probe images failed: ${(error as Error).message}`);
    }
    for (const [i, p] of probes.entries()) {
      if (Number.isNaN(zs[i]))
        throw new BundleError(`${this.modelVersion}: the model produced NaN on probe image '${p.name}'`);
    }
    this.probeScores = [...zs].map((z) => calibrate(z, this.manifest.calibration));
    const times: number[] = [];
    for (const v of views) {
      const t = performance.now();
      await this.infer([v]);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    this.probeLatencyMs = times[Math.floor(times.length / 2)] ?? 0;
  }

  /** Geometry per distinct preprocessing spec; rescale/normalize/flip happen as the batch tensor is filled. */
  private prepare(image: RgbImage): Prepared {
    const views: Prepared = new Map();
    for (const [key, spec] of this.specs) views.set(key, geometry(image, spec));
    return views;
  }

  /**
   * The size to decode an image of this displayed size to: the largest first-resize any member's preprocessing
   * makes, so a big frame is decoded (shrink-on-load) straight to what the preprocessing needs.
   */
  private readonly decodeTarget = (
    width: number,
    height: number,
  ): { width: number; height: number; resample: number } | undefined => {
    let out: { width: number; height: number; resample: number } | undefined;
    for (const spec of this.specs.values()) {
      const t = resizeTarget(spec, width, height);
      if (!t) return undefined; // a member uses the image as it is
      out = out
        ? { width: Math.max(out.width, t.width), height: Math.max(out.height, t.height), resample: out.resample }
        : { ...t, resample: spec.resample };
    }
    return out;
  };

  /** Runs a batch through every member; returns the combined (uncalibrated) logit per image. */
  private async infer(batch: Prepared[]): Promise<Float64Array> {
    const n = batch.length;
    const tta = this.manifest.tta;
    const nViews = tta.length;
    const probability = this.manifest.combine === "mean-probability";
    const acc = new Float64Array(n);
    let totalWeight = 0;
    // One filled tensor per (spec, layout, padded rows): members that share them share the work.
    const filled = new Map<string, Float32Array | Uint8Array>();
    const results = await Promise.all(
      this.members.map(async (m) => {
        const per = 3 * m.height * m.width;
        const rows = m.rowsFor(n * nViews);
        const key = `${m.specKey}|${m.layout}|${rows}`;
        let pixels = filled.get(key);
        if (!pixels) {
          const uint8 = m.layout === "nhwc-uint8";
          const out = uint8 ? new Uint8Array(rows * per) : new Float32Array(rows * per);
          for (let i = 0; i < n; i++) {
            const g = batch[i]?.get(m.specKey) as RgbImage;
            for (let v = 0; v < nViews; v++) {
              const at = (i * nViews + v) * per;
              const flip = tta[v] === "hflip";
              if (out instanceof Uint8Array) writeHwc(g, out, at, flip);
              else writeNormalized(g, m.spec, out, at, flip);
            }
          }
          pixels = out;
          filled.set(key, pixels);
        }
        return m.logits(pixels, n * nViews);
      }),
    );
    for (const [j, m] of this.members.entries()) {
      const zs = results[j] as Float64Array;
      totalWeight += m.weight;
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let v = 0; v < nViews; v++) {
          const z = zs[i * nViews + v] as number;
          sum += probability ? sigmoid(z) : z;
        }
        acc[i] = (acc[i] as number) + (m.weight * sum) / nViews;
      }
    }
    for (let i = 0; i < n; i++) {
      const mean = (acc[i] as number) / totalWeight;
      acc[i] = probability ? logit(mean) : mean;
    }
    return acc;
  }

  decodedPixels(image: Uint8Array): number | undefined {
    return decodedPixels(image, this.decodeTarget);
  }

  async score(image: Uint8Array, options: ScoreOptions = {}): Promise<ScoreResult> {
    if (this.closing) throw new EngineClosedError(`engine ${this.modelVersion} is closed`);
    options.signal?.throwIfAborted();
    this.inFlight++;
    this.counters.requests++;
    try {
      const t0 = performance.now();
      const key = await imageSha256(image);
      const hit = this.cache.get(key);
      if (hit !== undefined) {
        this.counters.cacheHits++;
        return { score: hit, modelVersion: this.modelVersion, cached: true };
      }
      const rgb = await decodeImage(image, { ...this.options.decode, resizeTo: this.decodeTarget });
      const t1 = performance.now();
      options.signal?.throwIfAborted();
      const views = this.prepare(rgb);
      const t2 = performance.now();
      const z = await this.enqueue(views, options.signal);
      const t3 = performance.now();
      if (Number.isNaN(z)) throw new ModelOutputError(`model ${this.modelVersion} produced NaN for this image`);
      const score = calibrate(z, this.manifest.calibration);
      this.cache.set(key, score);
      return {
        score,
        modelVersion: this.modelVersion,
        cached: false,
        timings: { decodeMs: t1 - t0, preprocessMs: t2 - t1, inferenceMs: t3 - t2 },
      };
    } catch (error) {
      this.counters.failures++;
      throw error;
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) this.drained?.();
    }
  }

  private enqueue(views: Prepared, signal: AbortSignal | undefined): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const item: Pending = { views, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        // Leave the queue as soon as the caller gives up; a run already started is not interrupted.
        item.onAbort = () => {
          const i = this.queue.indexOf(item);
          if (i >= 0) {
            this.queue.splice(i, 1);
            reject(signal.reason);
          }
        };
        signal.addEventListener("abort", item.onAbort, { once: true });
      }
      this.queue.push(item);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running) return; // the running batch re-schedules when it finishes
    if (this.queue.length >= this.maxBatch || this.maxWaitMs === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush("runsOnArrival");
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush("runsAfterWait");
      }, this.maxWaitMs);
    }
  }

  private async flush(why: "runsOnArrival" | "runsAfterWait" | "runsAfterRun"): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    this.counters[why]++;
    const items = this.queue.splice(0, this.maxBatch);
    for (const item of items) if (item.onAbort) item.signal?.removeEventListener("abort", item.onAbort);
    try {
      const zs = await this.infer(items.map((i) => i.views));
      this.counters.batches++;
      this.counters.batchedImages += items.length;
      for (const [i, item] of items.entries()) item.resolve(zs[i] as number);
    } catch (error) {
      for (const item of items) item.reject(error);
    } finally {
      this.running = false;
      // Whatever queued during the run has already waited; run it now.
      if (this.queue.length > 0) {
        clearTimeout(this.timer);
        this.timer = undefined;
        void this.flush("runsAfterRun");
      }
    }
  }

  /** Stops accepting work, waits for every call already inside score() to finish, then releases the sessions. */
  close(): Promise<void> {
    this.closing = true;
    this.closed ??= (async () => {
      if (this.inFlight > 0) {
        await new Promise<void>((resolve) => {
          this.drained = resolve;
        });
      }
      clearTimeout(this.timer);
      await Promise.all(this.members.map((m) => m.release().catch(() => {})));
    })();
    return this.closed;
  }
}
