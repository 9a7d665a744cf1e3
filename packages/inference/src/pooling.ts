// Backbone output → one embedding row per image, shared by serving (member.ts) and training (@roadwork/training's
// EmbeddingExtractor) so both read exactly the same numbers out of a ViT's token sequence.
//   none      the output already is [N, D] (e.g. pooler_output, or an exported "embedding")
//   cls       token 0 of [N, T, D] (the CLS token of last_hidden_state)
//   mean      mean of the patch tokens of [N, T, D] (tokens from `prefixTokens` on: CLS and registers skipped)
//   cls+mean  both, concatenated to [N, 2D]: the DINOv2 linear-probe input (Oquab et al. 2023, §7 / the
//             dinov2 repository's linear evaluation, `create_linear_input` with avgpool)
import { z } from "zod";

export const POOLINGS = ["none", "cls", "mean", "cls+mean"] as const;
export const PoolingSchema = z.enum(POOLINGS);
export type Pooling = z.infer<typeof PoolingSchema>;

/** Pools `rows` images' backbone output into [rows, D'] (D' = 2D for "cls+mean"). */
export function poolEmbedding(
  data: Float32Array,
  dims: readonly number[],
  rows: number,
  pooling: Pooling,
  prefixTokens = 1,
): { data: Float32Array; dim: number } {
  const shape = `[${dims.join(",")}]`;
  if (pooling === "none") {
    if (dims.length !== 2 || dims[0] !== rows) throw new Error(`embedding output is ${shape}; expected [${rows}, D]`);
    return { data, dim: dims[1]! };
  }
  if (dims.length !== 3 || dims[0] !== rows)
    throw new Error(`embedding output is ${shape}; pooling "${pooling}" needs [${rows}, T, D]`);
  const t = dims[1]!;
  const d = dims[2]!;
  if (pooling !== "cls" && t <= prefixTokens)
    throw new Error(`embedding output ${shape} has no patch tokens after ${prefixTokens} prefix token(s)`);
  const dim = pooling === "cls+mean" ? 2 * d : d;
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    const base = i * t * d;
    let o = i * dim;
    if (pooling !== "mean") {
      out.set(data.subarray(base, base + d), o);
      o += d;
    }
    if (pooling !== "cls") {
      const patches = t - prefixTokens;
      for (let k = 0; k < d; k++) {
        let sum = 0;
        for (let j = prefixTokens; j < t; j++) sum += data[base + j * d + k]!;
        out[o + k] = sum / patches;
      }
    }
  }
  return { data: out, dim };
}
