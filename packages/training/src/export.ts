// Trained head → ONNX (Gemm[+Relu+Gemm]+Sigmoid, standardization folded into the first Gemm) and → a complete
// model bundle (backbone member + head, threshold-shift calibration so served scores cross 0.5 at the threshold).
import {
  GraphBuilder,
  type Manifest,
  type ManifestDraft,
  type Pooling,
  type Preprocessing,
  writeBundle,
} from "@roadwork/inference";
import { type HeadWeights, restandardize } from "./head.ts";

export const HEAD_INPUT = "embedding";
export const HEAD_OUTPUT = "score";

/** The head as ONNX: raw embedding [N, D] → probability of roadwork [N, 1] (before calibration). */
export function exportHeadOnnx(w: HeadWeights): Uint8Array {
  const D = w.inputDim;
  const rows = w.kind === "mlp" ? w.hidden : 1;
  // (x − mean) / std · Wᵀ + b  ==  x · (W / std)ᵀ + (b − Σ W·mean/std): the head re-expressed for mean 0, std 1.
  const { w1, b1 } = restandardize(w, new Float32Array(D), new Float32Array(D).fill(1));
  const g = new GraphBuilder(`roadwork-head-${w.kind}`);
  const x = g.input(HEAD_INPUT, "float32", ["N", D]);
  g.initializer("w1", w1, [rows, D]);
  g.initializer("b1", b1, [rows]);
  let [z] = g.node("Gemm", [x, "w1", "b1"], 1, { transB: 1 });
  if (w.kind === "mlp") {
    const [h] = g.node("Relu", [z!]);
    g.initializer("w2", Float32Array.from(w.w2), [1, w.hidden]);
    g.initializer("b2", Float32Array.from(w.b2), [1]);
    [z] = g.node("Gemm", [h!, "w2", "b2"], 1, { transB: 1 });
  }
  g.node("Sigmoid", [z!], [HEAD_OUTPUT]);
  g.output(HEAD_OUTPUT, "float32", ["N", 1]);
  return g.toModel({ docString: `roadwork ${w.kind} head on ${D}-dim embeddings` });
}

export interface BundleSpec {
  dir: string;
  name: string;
  version: string;
  description: string;
  backbone: {
    bytes: Uint8Array;
    inputName: string;
    size: number;
    preprocessing: Preprocessing | Record<string, unknown>;
    output: string;
    token: Pooling;
    /** Tokens before the patches (CLS + registers); default 1. */
    prefixTokens?: number;
    /** Pixel input element type; default float32. */
    dtype?: "float32" | "float16";
  };
  head: HeadWeights;
  /** Decision threshold on the head's probability; mapped to 0.5 by the bundle's calibration. */
  threshold: number;
  training: Record<string, unknown>;
}

export async function writeModelBundle(spec: BundleSpec): Promise<Manifest> {
  const draft: ManifestDraft = {
    name: spec.name,
    version: spec.version,
    description: spec.description,
    members: [
      {
        id: "main",
        onnx: "backbone.onnx",
        input: {
          name: spec.backbone.inputName,
          shape: ["N", 3, spec.backbone.size, spec.backbone.size],
          dtype: spec.backbone.dtype ?? "float32",
        },
        preprocessing: spec.backbone.preprocessing,
        output: { name: HEAD_OUTPUT, kind: "sigmoid" },
        head: {
          onnx: "head.onnx",
          input: HEAD_INPUT,
          embedding: {
            output: spec.backbone.output,
            token: spec.backbone.token,
            prefixTokens: spec.backbone.prefixTokens ?? 1,
          },
        },
      },
    ],
    calibration: { kind: "threshold-shift", threshold: spec.threshold },
    training: spec.training,
  };
  return writeBundle(spec.dir, draft, { "backbone.onnx": spec.backbone.bytes, "head.onnx": exportHeadOnnx(spec.head) });
}
