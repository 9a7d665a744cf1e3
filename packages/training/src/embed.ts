// Embedding extraction: images → backbone ONNX (through the inference engine's decode, preprocessing and session
// code, so training sees exactly the pixels serving sees) → one vector per image, in batches, with progress.
import {
  createSession,
  decodeImage,
  type ExecutionProviderChoice,
  fromHalf,
  type Pooling,
  type Preprocessing,
  parsePreprocessing,
  poolEmbedding,
  preprocess,
  resizeTarget,
  silentLogger,
  toHalfArray,
} from "@roadwork/inference";
import * as ort from "onnxruntime-node";
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
}

export interface EmbedOptions {
  batchSize?: number;
  executionProvider?: ExecutionProviderChoice;
  onProgress?: (done: number, total: number) => void;
}

/** A loaded backbone session that turns encoded images into embedding rows. */
export class EmbeddingExtractor {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly spec: BackboneSpec,
    private readonly inputName: string,
    private readonly inputType: "float32" | "float16",
  ) {}

  static async load(
    spec: BackboneSpec,
    options: Pick<EmbedOptions, "executionProvider"> = {},
  ): Promise<EmbeddingExtractor> {
    const { session } = await createSession(spec.model, {
      executionProvider: options.executionProvider ?? "cpu",
      logger: silentLogger,
    });
    const input = session.inputNames[0];
    if (!input || session.inputNames.length !== 1) {
      throw new Error(`backbone must take exactly one pixel input; it has ${session.inputNames.join(", ") || "none"}`);
    }
    if (!session.outputNames.includes(spec.output)) {
      throw new Error(`backbone has no output '${spec.output}' (its outputs: ${session.outputNames.join(", ")})`);
    }
    const meta = session.inputMetadata[0];
    const inputType = meta?.isTensor && meta.type === "float16" ? "float16" : "float32";
    return new EmbeddingExtractor(session, spec, input, inputType);
  }

  /** Embeds encoded images (JPEG/PNG/WebP bytes, or a loader per index) into an [N, D] matrix. */
  async embed(
    count: number,
    image: (index: number) => Promise<Uint8Array>,
    options: EmbedOptions = {},
  ): Promise<Matrix> {
    const batchSize = options.batchSize ?? 32;
    const prepare = async (
      start: number,
    ): Promise<{ batch: Float32Array; n: number; height: number; width: number }> => {
      const n = Math.min(batchSize, count - start);
      const tensors = await Promise.all(
        Array.from({ length: n }, async (_, i) =>
          // The engine's path exactly: shrink-on-load decode to the preprocessing's first resize, then geometry
          // (letterbox for non-square frames under the default frame policy), rescale and normalize.
          preprocess(
            await decodeImage(await image(start + i), {
              resizeTo: (w, h) => resizeTarget(this.spec.preprocessing, w, h),
            }),
            this.spec.preprocessing,
          ),
        ),
      );
      const first = tensors[0]!;
      const plane = first.data.length;
      const batch = new Float32Array(n * plane);
      tensors.forEach((t, i) => {
        if (t.data.length !== plane) throw new Error("preprocessing produced tensors of different sizes in one batch");
        batch.set(t.data, i * plane);
      });
      return { batch, n, height: first.height, width: first.width };
    };
    let dim = 0;
    let data = new Float32Array(0);
    let next = count > 0 ? prepare(0) : undefined;
    for (let start = 0; start < count; start += batchSize) {
      const { batch, n, height, width } = await next!;
      // Decode and augment the next batch on this thread while onnxruntime runs this one on its own threads.
      next = start + batchSize < count ? prepare(start + batchSize) : undefined;
      next?.catch(() => {});
      const pixels =
        this.inputType === "float16"
          ? new ort.Tensor("float16", toHalfArray(batch), [n, 3, height, width])
          : new ort.Tensor("float32", batch, [n, 3, height, width]);
      const result = await this.session.run({ [this.inputName]: pixels }, [this.spec.output]);
      const out = result[this.spec.output];
      if (!out || (out.type !== "float32" && out.type !== "float16"))
        throw new Error(`backbone output '${this.spec.output}' is ${out?.type}; expected float32 or float16`);
      const values =
        out.type === "float16" ? Float32Array.from(out.data as Uint16Array, fromHalf) : (out.data as Float32Array);
      const rows = poolEmbedding(values, out.dims, n, this.spec.token ?? "none", this.spec.prefixTokens ?? 1).data;
      if (dim === 0) {
        dim = rows.length / n;
        data = new Float32Array(count * dim);
      }
      data.set(rows, start * dim);
      options.onProgress?.(start + n, count);
    }
    return { rows: count, cols: dim, data };
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
