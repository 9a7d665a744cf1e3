// A small ViT-shaped ONNX backbone, laid out like the onnx-community DINOv2(-with-registers) exports: input
// `pixel_values` [batch_size, 3, height, width] (dynamic), output `last_hidden_state` [batch_size, 1 + R + T, D]
// (CLS, R register tokens, T patch tokens) and `pooler_output` [batch_size, D]. Patch embedding (Conv, stride =
// patch), CLS and registers derived from the patches, one self-attention block with a residual and LayerNorm.
// Seeded weights: no pretrained anything, but a real transformer graph through onnxruntime.
import { GraphBuilder, seededRandom } from "@roadwork/inference";

export interface TinyVitOptions {
  patch?: number;
  dim?: number;
  registers?: number;
  seed?: number;
}

export function buildTinyVit(options: TinyVitOptions = {}): Uint8Array {
  const patch = options.patch ?? 14;
  const d = options.dim ?? 16;
  const registers = options.registers ?? 0;
  const rand = seededRandom(options.seed ?? 7);
  const weights = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  const g = new GraphBuilder("tiny-vit");
  g.input("pixel_values", "float32", ["batch_size", 3, "height", "width"]);
  g.initializer("patch_w", weights(d * 3 * patch * patch, 1 / patch), [d, 3, patch, patch]);
  g.initializer("patch_b", weights(d, 0.1), [d]);
  const [grid] = g.node("Conv", ["pixel_values", "patch_w", "patch_b"], 1, {
    kernel_shape: [patch, patch],
    strides: [patch, patch],
  });
  g.initializer("flat_shape", new BigInt64Array([0n, BigInt(d), -1n]), [3]);
  const [flat] = g.node("Reshape", [grid!, "flat_shape"]);
  const [patches] = g.node("Transpose", [flat!], 1, { perm: [0, 2, 1] });
  g.initializer("cls_b", weights(d, 0.5), [1, 1, d]);
  const [meanPatch] = g.node("ReduceMean", [patches!], 1, { axes: [1], keepdims: 1 });
  const [cls] = g.node("Add", [meanPatch!, "cls_b"]);
  const prefix = [cls!];
  for (let r = 0; r < registers; r++) {
    g.initializer(`reg_b${r}`, weights(d, 2), [1, 1, d]);
    const [maxPatch] = g.node("ReduceMax", [patches!], 1, { axes: [1], keepdims: 1 });
    prefix.push(g.node("Add", [maxPatch!, `reg_b${r}`])[0]!);
  }
  const [tokens] = g.node("Concat", [...prefix, patches!], 1, { axis: 1 });
  const proj = (name: string, input: string) => {
    g.initializer(`${name}_w`, weights(d * d, 1 / Math.sqrt(d)), [d, d]);
    return g.node("MatMul", [input, `${name}_w`])[0]!;
  };
  const q = proj("q", tokens!);
  const k = proj("k", tokens!);
  const v = proj("v", tokens!);
  const [kt] = g.node("Transpose", [k], 1, { perm: [0, 2, 1] });
  const [scores] = g.node("MatMul", [q, kt!]);
  g.initializer("scale", new Float32Array([1 / Math.sqrt(d)]), [1]);
  const [scaled] = g.node("Mul", [scores!, "scale"]);
  const [attn] = g.node("Softmax", [scaled!], 1, { axis: -1 });
  const [mixed] = g.node("MatMul", [attn!, v]);
  const [residual] = g.node("Add", [tokens!, mixed!]);
  g.initializer(
    "ln_scale",
    Float32Array.from({ length: d }, () => 1),
    [d],
  );
  g.initializer("ln_bias", new Float32Array(d), [d]);
  g.node("LayerNormalization", [residual!, "ln_scale", "ln_bias"], ["last_hidden_state"], { axis: -1 });
  g.initializer("cls_index", new BigInt64Array([0n]), []);
  g.node("Gather", ["last_hidden_state", "cls_index"], ["pooler_output"], { axis: 1 });
  g.output("last_hidden_state", "float32", ["batch_size", "sequence_length", d]);
  g.output("pooler_output", "float32", ["batch_size", d]);
  return g.toModel({ opset: 17, docString: "tiny ViT-shaped test backbone (seeded weights)" });
}
