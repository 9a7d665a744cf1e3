// Checkpoints of a training run. A spot interruption gives the task a SIGTERM and ~2 minutes at most; the trainer
// stops between two embedding chunks, flushes the embedding cache (the expensive part of a run lives there) and writes
// a small checkpoint record, then exits. The next attempt of the same run reads the record, finds every vector it
// already computed in the cache and embeds only the rest; head training is seconds and deterministic, so it reruns.
import { z } from "zod";

/** Thrown by the trainer when its AbortSignal fired: the cache is flushed, nothing after this point was lost. */
export class TrainingInterrupted extends Error {
  override name = "TrainingInterrupted";
  constructor(
    readonly stage: string,
    readonly done: number,
    readonly total: number,
  ) {
    super(`training interrupted during ${stage} after ${done}/${total} views; the embedding cache holds them`);
  }
}

export const TrainCheckpoint = z.object({
  schemaVersion: z.literal(1),
  runId: z.string().min(1),
  datasetId: z.string().min(1),
  backboneSha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Attempts that ended in an interruption. */
  interruptions: z.number().int().min(0),
  stage: z.string(),
  done: z.number().int().min(0),
  total: z.number().int().min(0),
  /** Vectors in the cache when the checkpoint was written. */
  cachedVectors: z.number().int().min(0),
  updatedAt: z.iso.datetime(),
});
export type TrainCheckpoint = z.infer<typeof TrainCheckpoint>;

export function parseCheckpoint(json: unknown, source: string): TrainCheckpoint {
  const parsed = TrainCheckpoint.safeParse(json);
  if (!parsed.success) throw new Error(`${source} is not a training checkpoint: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/**
 * An AbortSignal that fires on the first SIGTERM or SIGINT (what ECS sends before a spot reclaim), for the trainer's
 * composition root. `dispose` removes the listeners.
 */
export function interruptOnSignals(signals: NodeJS.Signals[] = ["SIGTERM", "SIGINT"]): {
  signal: AbortSignal;
  received: () => NodeJS.Signals | undefined;
  dispose(): void;
} {
  const controller = new AbortController();
  let got: NodeJS.Signals | undefined;
  const handlers = signals.map((s) => {
    const h = () => {
      got ??= s;
      controller.abort(new Error(`received ${s}`));
    };
    process.on(s, h);
    return [s, h] as const;
  });
  return {
    signal: controller.signal,
    received: () => got,
    dispose() {
      for (const [s, h] of handlers) process.off(s, h);
    },
  };
}
