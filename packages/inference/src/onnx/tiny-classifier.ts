// A small but real roadwork classifier used until a trained model exists (local mode, axon tests):
// Conv(8x8, stride 8) → Relu → GlobalAveragePool → Flatten → Gemm → Sigmoid, on ImageNet-normalized RGB.
// Channel 0 is an "orange" detector (red up, blue down), which the head weighs most, so orange scenes
// (cones, barriers, work-zone signs) score higher; the other channels carry seeded random weights.
import { writeFile } from "node:fs/promises";
import { attr, GraphBuilder } from "./model.ts";

/** mulberry32: tiny deterministic PRNG, so the same seed always yields byte-identical models. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TinyClassifierOptions {
  seed?: number;
  /** Square input side (default 224). */
  size?: number;
  /** Output "sigmoid" (probability, default) or "logit" (no Sigmoid node). */
  output?: "sigmoid" | "logit";
  inputName?: string;
  outputName?: string;
}

export interface TinyClassifierWeights {
  conv: Float32Array; // [4,3,8,8]
  convBias: Float32Array; // [4]
  gemm: Float32Array; // [4,1]
  gemmBias: Float32Array; // [1]
}

export const TINY_KERNEL = 8;
export const TINY_CHANNELS = 4;

export function tinyClassifierWeights(seed = 1): TinyClassifierWeights {
  const rand = seededRandom(seed);
  const noise = (scale: number) => (rand() * 2 - 1) * scale;
  const k2 = TINY_KERNEL * TINY_KERNEL;
  const conv = new Float32Array(TINY_CHANNELS * 3 * k2);
  const orange = [1, 0.2, -1];
  for (let o = 0; o < TINY_CHANNELS; o++) {
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < k2; i++) {
        const base = o === 0 ? (orange[c] as number) / k2 : 0;
        conv[(o * 3 + c) * k2 + i] = base + noise(0.3 / k2);
      }
    }
  }
  const convBias = Float32Array.from({ length: TINY_CHANNELS }, () => noise(0.05));
  const gemm = Float32Array.from({ length: TINY_CHANNELS }, (_, i) => (i === 0 ? 2 : noise(0.2)));
  const gemmBias = Float32Array.of(-1.5 + noise(0.1));
  return { conv, convBias, gemm, gemmBias };
}

/** Builds the tiny classifier: input float32 [N,3,size,size] → output float32 [N,1]. */
export function buildTinyClassifier(options: TinyClassifierOptions = {}): Uint8Array {
  const size = options.size ?? 224;
  const inputName = options.inputName ?? "pixel_values";
  const outputName = options.outputName ?? (options.output === "logit" ? "logits" : "probability");
  const w = tinyClassifierWeights(options.seed ?? 1);
  const g = new GraphBuilder("roadwork_tiny_classifier");
  g.input(inputName, "float32", ["N", 3, size, size]);
  g.initializer("conv.weight", w.conv, [TINY_CHANNELS, 3, TINY_KERNEL, TINY_KERNEL]);
  g.initializer("conv.bias", w.convBias, [TINY_CHANNELS]);
  g.initializer("head.weight", w.gemm, [TINY_CHANNELS, 1]);
  g.initializer("head.bias", w.gemmBias, [1]);
  const [conv] = g.node("Conv", [inputName, "conv.weight", "conv.bias"], ["features"], {
    kernel_shape: [TINY_KERNEL, TINY_KERNEL],
    strides: [TINY_KERNEL, TINY_KERNEL],
  });
  const [relu] = g.node("Relu", [conv as string], ["activated"]);
  const [pooled] = g.node("GlobalAveragePool", [relu as string], ["pooled"]);
  const [flat] = g.node("Flatten", [pooled as string], ["embedding"], { axis: 1 });
  const logitName = options.output === "logit" ? outputName : "logit";
  g.node("Gemm", [flat as string, "head.weight", "head.bias"], [logitName], {
    alpha: attr.float(1),
    beta: attr.float(1),
  });
  if (options.output !== "logit") g.node("Sigmoid", [logitName], [outputName]);
  g.output(outputName, "float32", ["N", 1]);
  return g.toModel({ opset: 17, docString: `roadwork tiny classifier, seed ${options.seed ?? 1}` });
}

/** Writes the tiny classifier to `path` (an .onnx file). */
export async function writeTinyClassifier(path: string, options: TinyClassifierOptions = {}): Promise<void> {
  await writeFile(path, buildTinyClassifier(options));
}

/** Plain-JS forward pass of the tiny classifier (the reference its ONNX graph is tested against). Returns logits. */
export function tinyClassifierReference(pixels: Float32Array, size: number, seed = 1): number {
  const w = tinyClassifierWeights(seed);
  const k = TINY_KERNEL;
  const outSide = Math.floor((size - k) / k) + 1;
  const plane = size * size;
  let logit = w.gemmBias[0] as number;
  for (let o = 0; o < TINY_CHANNELS; o++) {
    let sum = 0;
    for (let oy = 0; oy < outSide; oy++) {
      for (let ox = 0; ox < outSide; ox++) {
        let acc = w.convBias[o] as number;
        for (let c = 0; c < 3; c++) {
          for (let ky = 0; ky < k; ky++) {
            for (let kx = 0; kx < k; kx++) {
              const px = pixels[c * plane + (oy * k + ky) * size + ox * k + kx] as number;
              acc += px * (w.conv[((o * 3 + c) * k + ky) * k + kx] as number);
            }
          }
        }
        sum += Math.max(acc, 0);
      }
    }
    logit += (sum / (outSide * outSide)) * (w.gemm[o] as number);
  }
  return logit;
}
