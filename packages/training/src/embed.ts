// Embedding extraction: images → backbone ONNX (through the inference engine's decode, preprocessing and session
// code, so training sees exactly the pixels serving sees) → one vector per image, in batches, with progress.
import { readFile } from "node:fs/promises";
import {
  affine,
  createSession,
  deviceAvailable,
  type ExecutionProviderChoice,
  fromHalf,
  graphInput,
  outputSize,
  PIXEL_INPUT,
  type Pooling,
  type Preprocessing,
  parsePreprocessing,
  poolEmbedding,
  type RgbImage,
  silentLogger,
  toHalfArray,
  withPixelInput,
  writeHwc,
  writeNormalized,
} from "@roadwork/inference";
import * as ort from "onnxruntime-node";
import { backbonePixels } from "./backbone-pixels.ts";
import type { RowFeed } from "./batch-rows.ts";
import type { Matrix } from "./head.ts";

export interface BackboneSpec {
  /** ONNX file path or bytes. */
  model: string | Uint8Array;
  preprocessing: Preprocessing;
  /** Backbone output holding the embedding. */
  output: string;
  /**
   * How a [N, T, D] output (DINOv2 last_hidden_state) becomes one row: "cls" token 0, "mean" the mean patch token,
   * "cls+mean" both (the DINOv2 linear probe); "none" expects [N, D]. The bundle's member pools the same way.
   */
  token?: Pooling;
  /** Tokens before the patches (1 + register tokens); default 1. */
  prefixTokens?: number;
  /** The pixel input's name: needed to prepend the preprocessing to the graph (without it, preprocessing runs here). */
  inputName?: string;
}

export interface EmbedOptions {
  batchSize?: number;
  executionProvider?: ExecutionProviderChoice;
  /**
   * Rescale + normalize + NCHW layout inside the graph, fed uint8 NHWC (the inference engine's `preprocessInGraph`):
   * "auto" (default) when the session is meant for CUDA (a quarter of the bytes cross to the GPU and the JS thread
   * only copies decoded rows), "always", or "never".
   */
  preprocessInGraph?: "auto" | "always" | "never";
  /**
   * Batches prepared ahead of the one on the backbone (default 2): with decodes on worker threads (ViewPool.feed, or
   * a loader that answers `backbonePixels` output, e.g. ViewPool.decode/renderPixels) they fill while the device runs.
   */
  prefetch?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Where an extractor's time went (ms, summed over calls): the phase profile of `npm run bench:train`. */
export interface EmbedStats {
  images: number;
  batches: number;
  /** Decode + preprocess of whole batches, wall time per batch (runs while earlier batches are on the backbone). */
  prepareMs: number;
  /** Time the loop waited for a batch to be prepared: input-bound when this is large. */
  waitMs: number;
  /** Backbone session runs (tensor creation and host↔device copies included). */
  runMs: number;
  /** Output conversion and pooling. */
  poolMs: number;
}

/** A loaded backbone session that turns encoded images into embedding rows. */
export class EmbeddingExtractor {
  readonly stats: EmbedStats = { images: 0, batches: 0, prepareMs: 0, waitMs: 0, runMs: 0, poolMs: 0 };
  /** The shared batch buffers of the last call that finished, kept for the next one (no allocation per call). */
  #idle: { shared: SharedArrayBuffer[]; host: ArrayBuffer } | undefined;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly spec: BackboneSpec,
    private readonly inputName: string,
    private readonly inputType: "float32" | "float16" | "uint8",
    /** The device the session landed on. */
    readonly device: string,
  ) {}

  /** The preprocessing images are decoded for (what a worker-side `backbonePixels` must be given). */
  get preprocessing(): Preprocessing {
    return this.spec.preprocessing;
  }

  /** "nhwc-uint8" when the graph does the preprocessing itself. */
  get layout(): "nchw-float" | "nhwc-uint8" {
    return this.inputType === "uint8" ? "nhwc-uint8" : "nchw-float";
  }

  static async load(
    spec: BackboneSpec,
    options: Pick<EmbedOptions, "executionProvider" | "preprocessInGraph"> = {},
  ): Promise<EmbeddingExtractor> {
    const choice = options.executionProvider ?? "cpu";
    const mode = options.preprocessInGraph ?? "auto";
    const size = outputSize(spec.preprocessing);
    const inGraph =
      size !== undefined &&
      spec.inputName !== undefined &&
      (mode === "always" || (mode === "auto" && choice !== "cpu" && deviceAvailable("cuda").ok));
    let model = spec.model;
    if (inGraph && spec.inputName) {
      const bytes = typeof model === "string" ? new Uint8Array(await readFile(model)) : model;
      const input = graphInput(bytes, spec.inputName);
      if (input?.type !== "float32" && input?.type !== "float16") {
        throw new Error(
          `backbone input '${spec.inputName}' is ${input?.type ?? "missing"}; expected float32 or float16`,
        );
      }
      model = withPixelInput(bytes, {
        input: spec.inputName,
        newInput: PIXEL_INPUT,
        height: size.height,
        width: size.width,
        ...affine(spec.preprocessing),
        inputType: input.type,
      });
    }
    const { session, device } = await createSession(model, { executionProvider: choice, logger: silentLogger });
    const input = session.inputNames[0];
    if (!input || session.inputNames.length !== 1) {
      throw new Error(`backbone must take exactly one pixel input; it has ${session.inputNames.join(", ") || "none"}`);
    }
    if (!session.outputNames.includes(spec.output)) {
      throw new Error(`backbone has no output '${spec.output}' (its outputs: ${session.outputNames.join(", ")})`);
    }
    const meta = session.inputMetadata[0];
    const inputType = inGraph ? "uint8" : meta?.isTensor && meta.type === "float16" ? "float16" : "float32";
    return new EmbeddingExtractor(session, spec, input, inputType, device);
  }

  /**
   * Embeds images into an [N, D] matrix. The images come from a loader per index that answers encoded bytes
   * (JPEG/PNG/WebP; decoded here) or pixels already decoded by `backbonePixels` (on a worker thread: then this thread
   * copies their rows), or from a RowFeed (ViewPool.feed) that writes whole rows into shared batch buffers: then this
   * thread only hands out row ranges and copies each finished batch once into the tensor onnxruntime reads.
   */
  async embed(
    count: number,
    image: ((index: number) => Promise<Uint8Array | RgbImage>) | RowFeed,
    options: EmbedOptions = {},
  ): Promise<Matrix> {
    const batchSize = options.batchSize ?? 32;
    const uint8 = this.inputType === "uint8";
    const pre = this.spec.preprocessing;
    const size = outputSize(pre);
    const feed = typeof image === "function" || size === undefined ? undefined : image;
    const load = typeof image === "function" ? image : (i: number) => image.image(i, pre);
    // Batches in preparation, in order: up to `prefetch` ahead of the one on the backbone.
    const ahead = Math.max(1, options.prefetch ?? 2);
    // With a feed: one shared buffer per batch in flight (those being filled and the one on the backbone).
    const rows = feed && size ? this.#rowBuffers(ahead + 1, batchSize * 3 * size.height * size.width) : undefined;
    const prepare = async (
      start: number,
    ): Promise<{ batch: Float32Array | Uint8Array; n: number; height: number; width: number }> => {
      const t = performance.now();
      const n = Math.min(batchSize, count - start);
      if (feed && size && rows) {
        const buffer = rows.shared[(start / batchSize) % rows.shared.length]!;
        await feed.fill(start, n, { buffer, layout: this.layout, preprocessing: pre, ...size });
        const length = n * 3 * size.height * size.width;
        const batch = uint8 ? new Uint8Array(buffer, 0, length) : new Float32Array(buffer, 0, length);
        this.stats.prepareMs += performance.now() - t;
        return { batch, n, ...size };
      }
      // Rescale and normalize happen here or in the graph; decode + geometry in backbonePixels (here or on a worker).
      const images = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const got = await load(start + i);
          return got instanceof Uint8Array ? backbonePixels(got, pre) : got;
        }),
      );
      const first = images[0]!;
      const plane = first.data.length;
      const batch = uint8 ? new Uint8Array(n * plane) : new Float32Array(n * plane);
      images.forEach((g, i) => {
        if (g.data.length !== plane) throw new Error("preprocessing produced tensors of different sizes in one batch");
        if (batch instanceof Uint8Array) writeHwc(g, batch, i * plane);
        else writeNormalized(g, pre, batch, i * plane);
      });
      this.stats.prepareMs += performance.now() - t;
      return { batch, n, height: first.height, width: first.width };
    };
    type Prepared = Awaited<ReturnType<typeof prepare>>;
    const queue: Promise<Prepared>[] = [];
    let queued = 0;
    const fill = () => {
      while (queue.length < ahead && queued < count) {
        const p = prepare(queued);
        p.catch(() => {}); // awaited in order below; a failure surfaces there
        queue.push(p);
        queued += batchSize;
      }
    };
    let dim = 0;
    let data = new Float32Array(0);
    fill();
    for (let start = 0; start < count; start += batchSize) {
      const waited = performance.now();
      const prepared = await queue.shift()!;
      const { n, height, width } = prepared;
      const ran = performance.now();
      this.stats.waitMs += ran - waited;
      // onnxruntime-node takes no tensor over a SharedArrayBuffer: one copy of the whole batch into the tensor's
      // own buffer, before the next batches start filling this one's shared buffer again.
      const batch = rows && this.inputType !== "float16" ? rows.tensor(prepared.batch) : prepared.batch;
      // Decode and preprocess the next batches (workers or this thread) while onnxruntime runs this one.
      fill();
      const pixels =
        batch instanceof Uint8Array
          ? new ort.Tensor("uint8", batch, [n, height, width, 3])
          : this.inputType === "float16"
            ? new ort.Tensor("float16", toHalfArray(batch), [n, 3, height, width])
            : new ort.Tensor("float32", batch, [n, 3, height, width]);
      const result = await this.session.run({ [this.inputName]: pixels }, [this.spec.output]);
      const pooled = performance.now();
      this.stats.runMs += pooled - ran;
      const out = result[this.spec.output];
      if (!out || (out.type !== "float32" && out.type !== "float16"))
        throw new Error(`backbone output '${this.spec.output}' is ${out?.type}; expected float32 or float16`);
      const values =
        out.type === "float16" ? Float32Array.from(out.data as Uint16Array, fromHalf) : (out.data as Float32Array);
      const pooledRows = poolEmbedding(
        values,
        out.dims,
        n,
        this.spec.token ?? "none",
        this.spec.prefixTokens ?? 1,
      ).data;
      if (dim === 0) {
        dim = pooledRows.length / n;
        data = new Float32Array(count * dim);
      }
      data.set(pooledRows, start * dim);
      this.stats.poolMs += performance.now() - pooled;
      this.stats.images += n;
      this.stats.batches++;
      options.onProgress?.(start + n, count);
    }
    // Only a call that finished returns its buffers: a failed one's chunks may still be writing into them.
    rows?.release();
    return { rows: count, cols: dim, data };
  }

  /**
   * `slots` shared buffers of `elements` batch values each, and the tensor's own buffer they are copied into; taken
   * from the last finished call when the sizes match (a concurrent call gets its own).
   */
  #rowBuffers(slots: number, elements: number) {
    const bytes = elements * (this.inputType === "uint8" ? 1 : 4);
    let set = this.#idle;
    this.#idle = undefined;
    if (!set || set.shared.length !== slots || set.host.byteLength !== bytes) {
      set = {
        shared: Array.from({ length: slots }, () => new SharedArrayBuffer(bytes)),
        host: new ArrayBuffer(bytes),
      };
    }
    const { shared, host } = set;
    return {
      shared,
      tensor: (batch: Uint8Array | Float32Array): Uint8Array | Float32Array => {
        const own =
          batch instanceof Uint8Array ? new Uint8Array(host, 0, batch.length) : new Float32Array(host, 0, batch.length);
        own.set(batch);
        return own;
      },
      release: () => {
        this.#idle = set;
      },
    };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** Reads a backbone ONNX file's input name, size and outputs, for training with a production backbone. */
export async function describeBackbone(
  path: string,
  options: { output?: string; token?: Pooling; preprocessing?: unknown; description?: string } = {},
): Promise<{
  model: string;
  inputName: string;
  size: number;
  preprocessing: Preprocessing;
  output: string;
  token: Pooling;
  description: string;
}> {
  const { session } = await createSession(path, { executionProvider: "cpu", logger: silentLogger });
  try {
    const input = session.inputMetadata[0];
    if (!input?.isTensor || session.inputNames.length !== 1)
      throw new Error(`${path}: a backbone takes exactly one pixel input`);
    const [, c, h, w] = input.shape;
    if (c !== 3 || typeof h !== "number" || h !== w) {
      throw new Error(
        `${path}: input '${input.name}' is [${input.shape.join(",")}]; expected [N,3,S,S] with a fixed square size`,
      );
    }
    const output = options.output ?? session.outputNames[0]!;
    if (!session.outputNames.includes(output))
      throw new Error(`${path} has no output '${output}' (its outputs: ${session.outputNames.join(", ")})`);
    const token = options.token ?? "none";
    return {
      model: path,
      inputName: input.name,
      size: h,
      preprocessing: parsePreprocessing(options.preprocessing ?? { size: { height: h, width: w } }),
      output,
      token,
      description:
        options.description ??
        `ONNX backbone ${path.split(/[\\/]/).pop()} (${output}${token === "none" ? "" : `, ${token} pooling`})`,
    };
  } finally {
    await session.release();
  }
}
