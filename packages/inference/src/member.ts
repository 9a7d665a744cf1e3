// One bundle member on one onnxruntime session (plus its head, if it has one): a batch of preprocessed pixels in,
// one roadwork logit per image out. Everything the manifest claims about the ONNX files is checked at load.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { normalizeBuckets, planRuns } from "./batch-plan.ts";
import { BundleError, type Member } from "./bundle/manifest.ts";
import { logit } from "./calibration.ts";
import { fromHalf, toHalfArray } from "./fp16.ts";
import type { Preprocessing } from "./image/preprocess.ts";
import { affine, outputSize } from "./image/preprocess.ts";
import { recordModelTime } from "./loop-load.ts";
import { graphInput, withPixelInput } from "./onnx/pixel-input.ts";
import { poolEmbedding } from "./pooling.ts";
import { type CreatedSession, createSession, type Device, deviceAvailable, type SessionOptions } from "./session.ts";

export interface MemberOptions extends SessionOptions {
  /**
   * Row counts every run is padded up to (see planRuns), each served by its own backbone session so that a session
   * sees one input shape only. Ignored for models with a fixed batch size.
   */
  batchBuckets?: readonly number[];
  /** Where the buckets apply: "cuda" (default) only when the member landed on the GPU, "any" on every device. */
  bucketsOn?: "cuda" | "any";
  /**
   * Rescale + normalize + NCHW layout as nodes prepended to the model, fed uint8 NHWC: "auto" (default) when the
   * session is meant for CUDA (the work moves to the GPU and 4× fewer bytes cross to it), "always", or "never"
   * (CPU hosts: the JS path is exact to numpy's float32 arithmetic and costs the same there).
   */
  preprocessInGraph?: "auto" | "always" | "never";
}

/** Name of the uint8 NHWC input a member gets when its preprocessing runs inside the graph. */
export const PIXEL_INPUT = "roadwork_pixels_uint8";

type TensorMeta = { name: string; type: string; shape: readonly (number | string)[] };

function meta(session: ort.InferenceSession, kind: "input" | "output", name: string, where: string): TensorMeta {
  const list = kind === "input" ? session.inputMetadata : session.outputMetadata;
  const found = list.find((m) => m.name === name);
  if (!found) {
    const names = list.map((m) => m.name).join(", ");
    throw new BundleError(`${where}: the model has no ${kind} '${name}' (its ${kind}s: ${names})`);
  }
  if (!found.isTensor) throw new BundleError(`${where}: ${kind} '${name}' is not a tensor`);
  return { name, type: found.type, shape: found.shape };
}

const fmt = (shape: readonly (number | string)[]) => `[${shape.join(",")}]`;

/** Reads a float tensor (float32 or float16) as plain numbers. */
function floats(t: ort.Tensor): Float32Array {
  if (t.type === "float32") return t.data as Float32Array;
  if (t.type === "float16") {
    const bits = t.data as Uint16Array;
    return Float32Array.from(bits, fromHalf);
  }
  throw new BundleError(`output tensor has type ${t.type}; expected float32 or float16`);
}

export class MemberRunner {
  readonly id: string;
  readonly weight: number;
  readonly spec: Preprocessing;
  /** Members with equal keys share one preprocessed tensor. */
  readonly specKey: string;
  readonly height: number;
  readonly width: number;
  /** Fixed batch size of the model's input, or undefined when N is symbolic. */
  readonly fixedBatch: number | undefined;
  readonly device: Device;
  readonly fallbackReason: string | undefined;
  readonly precision: "float32" | "float16";
  /** Row counts padded runs use, or undefined when every run has exactly the rows it was given. */
  readonly buckets: readonly number[] | undefined;
  /** Every row count a backbone session has been run with (a shape seen by onnxruntime). */
  readonly shapesRun = new Set<number>();
  /** Zero rows added to fill buckets, results discarded. */
  paddedRows = 0;
  /** "nhwc-uint8": the session takes geometry-stage pixels and preprocesses them itself (see preprocessInGraph). */
  readonly layout: "nchw-float" | "nhwc-uint8";

  private constructor(
    private readonly member: Member,
    private readonly backbone: ort.InferenceSession,
    private readonly head: ort.InferenceSession | undefined,
    private readonly inputType: "float32" | "float16",
    private readonly headInputType: "float32" | "float16" | undefined,
    created: CreatedSession,
    /** One backbone session per bucket (the first bucket's is `backbone`). */
    private readonly bucketSessions: ReadonlyMap<number, ort.InferenceSession>,
    inGraph: boolean,
  ) {
    this.layout = inGraph ? "nhwc-uint8" : "nchw-float";
    this.id = member.id;
    this.weight = member.weight;
    this.spec = member.preprocessing;
    this.specKey = JSON.stringify(member.preprocessing);
    this.height = member.input.shape[2];
    this.width = member.input.shape[3];
    const n = member.input.shape[0];
    this.fixedBatch = typeof n === "number" ? n : undefined;
    this.device = created.device;
    this.fallbackReason = created.fallbackReason;
    this.precision = inputType;
    this.buckets = bucketSessions.size > 0 ? [...bucketSessions.keys()] : undefined;
  }

  static async load(member: Member, dir: string, options: MemberOptions = {}): Promise<MemberRunner> {
    const where = `member '${member.id}'`;
    const size = outputSize(member.preprocessing);
    const [, , h, w] = member.input.shape;
    if (!size) {
      throw new BundleError(
        `${where}: preprocessing must produce a fixed size (add do_center_crop + crop_size, or size {height,width})`,
      );
    }
    if (size.height !== h || size.width !== w) {
      throw new BundleError(
        `${where}: preprocessing produces ${size.height}x${size.width} but the input shape is ${fmt(member.input.shape)}`,
      );
    }

    // fp16 variants only make sense on a GPU; try them first there, else use the float32 files.
    const choice = options.executionProvider ?? "auto";
    const cudaExpected = choice !== "cpu" && deviceAvailable("cuda").ok;
    const wantFp16 = member.fp16 !== undefined && cudaExpected;
    const mode = options.preprocessInGraph ?? "auto";
    const inGraph = mode === "always" || (mode === "auto" && cudaExpected);
    /** The model as a path, or (preprocessing in the graph) as wrapped bytes, checked against the manifest first. */
    const modelSource = async (file: string): Promise<string | Uint8Array> => {
      if (!inGraph) return join(dir, file);
      const bytes = await readFile(join(dir, file));
      const original = graphInput(bytes, member.input.name);
      if (!original) throw new BundleError(`${where}: the model has no input '${member.input.name}'`);
      if (original.type !== "float32" && original.type !== "float16") {
        throw new BundleError(
          `${where}: input '${member.input.name}' has type ${original.type}; expected float32 or float16`,
        );
      }
      if (file === member.onnx && original.type !== member.input.dtype) {
        throw new BundleError(
          `${where}: input '${member.input.name}' is ${original.type} but the manifest says ${member.input.dtype}`,
        );
      }
      checkInputShape(original.shape, member.input.shape, where);
      const { scale, bias } = affine(member.preprocessing);
      return withPixelInput(bytes, {
        input: member.input.name,
        newInput: PIXEL_INPUT,
        height: h,
        width: w,
        scale,
        bias,
        inputType: original.type,
      });
    };
    let files = { onnx: member.onnx, head: member.head?.onnx };
    let created: CreatedSession | undefined;
    let source: string | Uint8Array | undefined;
    if (wantFp16 && member.fp16) {
      try {
        source = await modelSource(member.fp16.onnx);
        created = await createSession(source, { ...options, executionProvider: "cuda" });
        files = { onnx: member.fp16.onnx, head: member.fp16.head?.onnx ?? member.head?.onnx };
      } catch (error) {
        options.logger?.warn("inference: fp16 variant unusable, using float32", {
          member: member.id,
          reason: (error as Error).message,
        });
      }
    }
    if (!created) {
      source = await modelSource(files.onnx);
      created = await createSession(source, options);
    }
    const backbone = created.session;
    let head: ort.InferenceSession | undefined;
    const bucketSessions = new Map<number, ort.InferenceSession>();
    try {
      if (inGraph) {
        const input = meta(backbone, "input", PIXEL_INPUT, where);
        if (input.type !== "uint8") throw new BundleError(`${where}: in-graph preprocessing input is ${input.type}`);
      }
      const input = inGraph
        ? { name: member.input.name, type: "float32", shape: member.input.shape }
        : meta(backbone, "input", member.input.name, where);
      if (input.type !== "float32" && input.type !== "float16") {
        throw new BundleError(`${where}: input '${input.name}' has type ${input.type}; expected float32 or float16`);
      }
      if (files.onnx === member.onnx && input.type !== member.input.dtype) {
        throw new BundleError(
          `${where}: input '${input.name}' is ${input.type} but the manifest says ${member.input.dtype}`,
        );
      }
      checkInputShape(input.shape, member.input.shape, where);
      let headInputType: "float32" | "float16" | undefined;
      if (member.head && files.head) {
        meta(backbone, "output", member.head.embedding.output, where);
        const headCreated = await createSession(join(dir, files.head), {
          ...options,
          executionProvider: created.device,
          intraOpNumThreads: options.headIntraOpNumThreads ?? 1,
        });
        head = headCreated.session;
        const headIn = meta(head, "input", member.head.input, `${where} head`);
        if (headIn.type !== "float32" && headIn.type !== "float16") {
          throw new BundleError(
            `${where} head: input '${headIn.name}' has type ${headIn.type}; expected float32 or float16`,
          );
        }
        headInputType = headIn.type;
        checkOutput(meta(head, "output", member.output.name, `${where} head`), member, `${where} head`);
      } else {
        checkOutput(meta(backbone, "output", member.output.name, where), member, where);
      }
      const bucketsWanted =
        options.batchBuckets !== undefined &&
        typeof member.input.shape[0] !== "number" &&
        ((options.bucketsOn ?? "cuda") === "any" || created.device === "cuda");
      if (bucketsWanted && options.batchBuckets) {
        const buckets = normalizeBuckets(options.batchBuckets);
        for (const [i, rows] of buckets.entries()) {
          if (i === 0) {
            bucketSessions.set(rows, backbone);
            continue;
          }
          const extra = await createSession(source ?? join(dir, files.onnx), {
            ...options,
            executionProvider: created.device,
          });
          bucketSessions.set(rows, extra.session);
        }
      }
      return new MemberRunner(
        member,
        backbone,
        head,
        input.type as "float32" | "float16",
        headInputType,
        created,
        bucketSessions,
        inGraph,
      );
    } catch (error) {
      for (const s of bucketSessions.values()) if (s !== backbone) await s.release().catch(() => {});
      await backbone.release().catch(() => {});
      await head?.release().catch(() => {});
      throw error;
    }
  }

  /**
   * Runs `n` images and returns one logit per image (NaN if not finite). `pixels` holds CHW float32 planes, or NHWC
   * uint8 rows when `layout` is "nhwc-uint8", concatenated; it may be longer than `n` rows (zeros), in which case
   * bucket padding uses it in place instead of copying (see `rowsFor`).
   */
  async logits(pixels: Float32Array | Uint8Array, n: number): Promise<Float64Array> {
    const per = 3 * this.height * this.width;
    if (pixels.length < n * per)
      throw new RangeError(`expected ${n * per} values for ${n} images, got ${pixels.length}`);
    if (pixels instanceof Uint8Array !== (this.layout === "nhwc-uint8")) {
      throw new TypeError(`member '${this.id}' takes ${this.layout} pixels`);
    }
    const out = new Float64Array(n);
    for (const { start, count, rows } of planRuns(n, this.fixedBatch, this.buckets)) {
      let slice = pixels.subarray(start * per, (start + rows) * per);
      if (count < rows) {
        this.paddedRows += rows - count;
        if (slice.length < rows * per) {
          const padded = pixels instanceof Uint8Array ? new Uint8Array(rows * per) : new Float32Array(rows * per);
          padded.set(pixels.subarray(start * per, (start + count) * per));
          slice = padded;
        }
        // Otherwise rows past `count` are the caller's spare rows: padding, their results discarded.
      }
      const values = await this.run(slice, rows);
      for (let i = 0; i < count; i++) out[start + i] = values[i] as number;
    }
    return out;
  }

  /** The rows the first run of an `n`-row batch is padded to (allocate that many to avoid a copy). */
  rowsFor(n: number): number {
    const first = planRuns(n, this.fixedBatch, this.buckets)[0];
    return first && n <= first.rows ? first.rows : n;
  }

  private tensor(type: "float32" | "float16", data: Float32Array, dims: number[]): ort.Tensor {
    return type === "float16"
      ? new ort.Tensor("float16", toHalfArray(data), dims)
      : new ort.Tensor("float32", data, dims);
  }

  private async run(pixels: Float32Array | Uint8Array, rows: number): Promise<Float64Array> {
    const member = this.member;
    const input =
      pixels instanceof Uint8Array
        ? new ort.Tensor("uint8", pixels, [rows, this.height, this.width, 3])
        : this.tensor(this.inputType, pixels, [rows, 3, this.height, this.width]);
    const inputName = pixels instanceof Uint8Array ? PIXEL_INPUT : member.input.name;
    const backbone = this.bucketSessions.get(rows) ?? this.backbone;
    this.shapesRun.add(rows);
    const started = performance.now();
    let final: ort.Tensor;
    if (this.head && member.head) {
      const embName = member.head.embedding.output;
      const r = await backbone.run({ [inputName]: input }, [embName]);
      const emb = r[embName] as ort.Tensor;
      const data = floats(emb);
      let pooled: { data: Float32Array; dim: number };
      try {
        pooled = poolEmbedding(data, emb.dims, rows, member.head.embedding.token, member.head.embedding.prefixTokens);
      } catch (error) {
        throw new BundleError(`member '${member.id}': '${embName}': ${(error as Error).message}`);
      }
      const headInput = this.tensor(this.headInputType ?? "float32", pooled.data, [rows, pooled.dim]);
      const h = await this.head.run({ [member.head.input]: headInput }, [member.output.name]);
      final = h[member.output.name] as ort.Tensor;
    } else {
      const r = await backbone.run({ [inputName]: input }, [member.output.name]);
      final = r[member.output.name] as ort.Tensor;
    }
    // The sessions ran on this thread's loop: not time the loop had for requests (loop-load.ts).
    recordModelTime(performance.now() - started);
    return toLogits(floats(final), final.dims, rows, member);
  }

  async release(): Promise<void> {
    for (const s of this.bucketSessions.values()) if (s !== this.backbone) await s.release();
    await this.backbone.release();
    await this.head?.release();
  }
}

function checkInputShape(
  actual: readonly (number | string)[],
  declared: readonly (number | string)[],
  where: string,
): void {
  if (actual.length !== 4)
    throw new BundleError(`${where}: the model's input is ${fmt(actual)}; expected rank 4 [N,3,H,W]`);
  for (let i = 0; i < 4; i++) {
    const a = actual[i];
    const d = declared[i];
    // A symbolic dimension in the model accepts any declared size; a fixed one must match exactly.
    if (typeof a === "number" && a > 0 && a !== (typeof d === "number" ? d : -1)) {
      throw new BundleError(`${where}: the model's input is ${fmt(actual)} but the manifest declares ${fmt(declared)}`);
    }
  }
}

function checkOutput(out: TensorMeta, member: Member, where: string): void {
  if (out.type !== "float32" && out.type !== "float16") {
    throw new BundleError(`${where}: output '${out.name}' has type ${out.type}; expected float32 or float16`);
  }
  if (out.shape.length > 2)
    throw new BundleError(`${where}: output '${out.name}' is ${fmt(out.shape)}; expected [N] or [N,K]`);
  const k = out.shape[1];
  const index = member.output.index ?? 0;
  if (typeof k === "number" && k > 0 && index >= k) {
    throw new BundleError(`${where}: output index ${index} is outside '${out.name}' ${fmt(out.shape)}`);
  }
  if (member.output.kind === "softmax" && k === 1) {
    throw new BundleError(`${where}: softmax over a single column is always 1; declare kind "sigmoid" or "logit"`);
  }
}

/** Output rows → roadwork logits according to the declared kind. */
function toLogits(data: Float32Array, dims: readonly number[], rows: number, member: Member): Float64Array {
  const k = dims.length === 2 ? (dims[1] as number) : 1;
  const index = member.output.index ?? 0;
  if (data.length !== rows * k)
    throw new BundleError(`member '${member.id}': output has ${data.length} values for ${rows} rows`);
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const row = data.subarray(i * k, (i + 1) * k);
    const v = row[index] as number;
    switch (member.output.kind) {
      case "logit":
        out[i] = v;
        break;
      case "sigmoid":
        if (v < 0 || v > 1) {
          // A "probability" outside [0,1] means the manifest mislabels a logit output.
          throw new BundleError(
            `member '${member.id}': output '${member.output.name}' is declared "sigmoid" but produced ${v}, outside [0,1]; declare kind "logit"`,
          );
        }
        out[i] = Number.isNaN(v) ? Number.NaN : logit(v);
        break;
      case "softmax": {
        let max = Number.NEGATIVE_INFINITY;
        for (const x of row) max = Math.max(max, x);
        let others = 0;
        for (let j = 0; j < k; j++) if (j !== index) others += Math.exp((row[j] as number) - max);
        // logit(softmax_index) = x_index − log Σ_{j≠index} exp(x_j)
        out[i] = v - max - Math.log(others);
        break;
      }
    }
  }
  return out;
}
