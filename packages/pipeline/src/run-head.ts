// The head a run trained, kept beside its bundle with the backbone it was trained on, so the next retrain can start
// from the champion's head instead of a random draw (only on the same backbone: another backbone's features differ).
import type { HeadWeights } from "@roadwork/training";
import { z } from "zod";
import type { PipelineStore } from "./blob-store.ts";

const floats = z.array(z.number());
const StoredHead = z.object({
  schemaVersion: z.literal(1),
  backboneSha256: z.string().regex(/^[0-9a-f]{64}$/),
  weights: z.object({
    kind: z.enum(["logistic", "mlp"]),
    inputDim: z.number().int().positive(),
    hidden: z.number().int().min(0),
    mean: floats,
    std: floats,
    w1: floats,
    b1: floats,
    w2: floats,
    b2: floats,
  }),
});

export const runHeadKey = (runId: string) => `runs/${runId}/head.json`;

export async function writeRunHead(
  store: PipelineStore,
  runId: string,
  backboneSha256: string,
  w: HeadWeights,
): Promise<void> {
  const record: z.infer<typeof StoredHead> = {
    schemaVersion: 1,
    backboneSha256,
    weights: {
      kind: w.kind,
      inputDim: w.inputDim,
      hidden: w.hidden,
      ...Object.fromEntries((["mean", "std", "w1", "b1", "w2", "b2"] as const).map((k) => [k, Array.from(w[k])])),
    } as z.infer<typeof StoredHead>["weights"],
  };
  await store.put(runHeadKey(runId), Buffer.from(JSON.stringify(record)));
}

/** The head run `runId` trained on this backbone; undefined when there is none, or it is unreadable or another's. */
export async function readRunHead(
  store: PipelineStore,
  runId: string,
  backboneSha256: string,
): Promise<HeadWeights | undefined> {
  const raw = await store.getJson<unknown>(runHeadKey(runId)).catch(() => undefined);
  const parsed = raw === undefined ? undefined : StoredHead.safeParse(raw);
  if (!parsed?.success || parsed.data.backboneSha256 !== backboneSha256) return undefined;
  const w = parsed.data.weights;
  const rows = w.kind === "mlp" ? w.hidden : 1;
  const sizes = { mean: w.inputDim, std: w.inputDim, w1: rows * w.inputDim, b1: rows };
  if (Object.entries(sizes).some(([k, n]) => w[k as keyof typeof sizes].length !== n)) return undefined;
  return {
    kind: w.kind,
    inputDim: w.inputDim,
    hidden: w.hidden,
    mean: Float32Array.from(w.mean),
    std: Float32Array.from(w.std),
    w1: Float32Array.from(w.w1),
    b1: Float32Array.from(w.b1),
    w2: Float32Array.from(w.w2),
    b2: Float32Array.from(w.b2),
  };
}
