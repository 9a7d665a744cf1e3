// The trainer task (GPU ECS task, spot with on-demand fallback): runs one heavy pipeline step, `train` or `evaluate`,
// named by the state machine in ROADWORK_STEP with its JSON input in ROADWORK_STEP_INPUT. The store is an S3 prefix
// (the models bucket) or, for tests and local runs, a directory. On SIGTERM (spot reclaim, ECS stop) the step
// flushes the embedding cache, writes its checkpoint and the task exits 143 within seconds; the state machine's retry
// starts a new task that resumes. Progress and phase timings go to the log; the figures also as EMF metrics.
import { S3Client } from "@aws-sdk/client-s3";
import {
  EvaluateJob,
  evaluate,
  LocalDirStore,
  LocalPointerStore,
  type PipelineContext,
  type PipelineStore,
  S3PointerStore,
  S3Store,
  TASK_INPUT_ENV,
  TASK_STEP_ENV,
  TrainJob,
  train,
} from "@roadwork/pipeline";
import { demoBackboneInput, describeBackbone, interruptOnSignals, TrainingInterrupted } from "@roadwork/training";
import { z } from "zod";

export const TrainerEnv = z.object({
  [TASK_STEP_ENV]: z.enum(["train", "evaluate"]),
  [TASK_INPUT_ENV]: z.string().min(2),
  /** s3://bucket/prefix/ or a local directory. */
  ROADWORK_STORE: z.string().min(1),
  /** The promotion pointer: s3://bucket/key or a local path. */
  ROADWORK_POINTER: z.string().min(1),
  /** "demo", or a backbone .onnx (local path; the image carries it or a volume provides it). */
  ROADWORK_BACKBONE: z.string().default("demo"),
  ROADWORK_BACKBONE_OUTPUT: z.string().optional(),
  ROADWORK_BACKBONE_TOKEN: z.enum(["none", "cls"]).default("none"),
  ROADWORK_DEVICE: z.enum(["cpu", "cuda"]).default("cuda"),
  ROADWORK_METRICS_NAMESPACE: z.string().default("Roadwork/Pipeline"),
  STAGE: z.string().default("dev"),
});
export type TrainerEnv = z.infer<typeof TrainerEnv>;

const line = (level: string, message: string, data: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ level, message, time: new Date().toISOString(), ...data })}\n`);

/** One EMF document (CloudWatch turns it into metrics from the task's log stream). */
function emf(namespace: string, stage: string, step: string, values: Record<string, number>): void {
  process.stdout.write(
    `${JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [
          {
            Namespace: namespace,
            Dimensions: [["Stage", "Step"]],
            Metrics: Object.keys(values).map((Name) => ({
              Name,
              Unit: Name.endsWith("Ms") ? "Milliseconds" : "Count",
            })),
          },
        ],
      },
      Stage: stage,
      Step: step,
      ...values,
    })}\n`,
  );
}

function storeFrom(uri: string, s3: () => S3Client): PipelineStore {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) return new LocalDirStore(uri);
  const prefix = m[2] && !m[2].endsWith("/") ? `${m[2]}/` : (m[2] ?? "");
  return new S3Store(s3(), m[1]!, prefix);
}

export async function runTrainerTask(env: NodeJS.ProcessEnv): Promise<number> {
  const parsed = TrainerEnv.safeParse(env);
  if (!parsed.success) {
    line("error", "trainer configuration is invalid", {
      issues: parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`),
    });
    return 2;
  }
  const cfg = parsed.data;
  let s3: S3Client | undefined;
  const client = (): S3Client => {
    s3 ??= new S3Client({});
    return s3;
  };
  const pointerMatch = /^s3:\/\/([^/]+)\/(.+)$/.exec(cfg.ROADWORK_POINTER);
  const interrupt = interruptOnSignals();
  const ctx: PipelineContext = {
    store: storeFrom(cfg.ROADWORK_STORE, client),
    pointer: pointerMatch
      ? new S3PointerStore(client(), pointerMatch[1]!, pointerMatch[2]!)
      : new LocalPointerStore(cfg.ROADWORK_POINTER),
    backbone: async () =>
      cfg.ROADWORK_BACKBONE === "demo"
        ? demoBackboneInput()
        : describeBackbone(cfg.ROADWORK_BACKBONE, {
            token: cfg.ROADWORK_BACKBONE_TOKEN,
            ...(cfg.ROADWORK_BACKBONE_OUTPUT ? { output: cfg.ROADWORK_BACKBONE_OUTPUT } : {}),
          }),
    ...(pointerMatch || cfg.ROADWORK_STORE.startsWith("s3://") ? { s3: client() } : {}),
    executionProvider: cfg.ROADWORK_DEVICE,
    signal: interrupt.signal,
    log: (message, data) => line("info", message, data),
  };
  const step = cfg[TASK_STEP_ENV];
  const started = Date.now();
  line("info", "trainer task started", { step, device: cfg.ROADWORK_DEVICE, backbone: cfg.ROADWORK_BACKBONE });
  try {
    const input = JSON.parse(cfg[TASK_INPUT_ENV]) as unknown;
    if (step === "train") {
      const r = await train(TrainJob.parse(input), ctx);
      line("info", "train finished", { ...r });
      emf(cfg.ROADWORK_METRICS_NAMESPACE, cfg.STAGE, step, {
        ...Object.fromEntries(Object.entries(r.durationsMs).map(([k, v]) => [`${k.replace(/-/g, "")}Ms`, v])),
        EmbeddingsCached: r.cache.hits,
        EmbeddingsComputed: r.cache.misses,
        TaskMs: Date.now() - started,
      });
    } else {
      const r = await evaluate(EvaluateJob.parse(input), ctx);
      line("info", "evaluate finished", { ...r });
      emf(cfg.ROADWORK_METRICS_NAMESPACE, cfg.STAGE, step, { EvaluationItems: r.items, TaskMs: Date.now() - started });
    }
    return 0;
  } catch (error) {
    if (error instanceof TrainingInterrupted) {
      line("warn", "interrupted: checkpoint written, exiting for the retry to resume", {
        signal: interrupt.received(),
        stage: error.stage,
        done: error.done,
        total: error.total,
      });
      emf(cfg.ROADWORK_METRICS_NAMESPACE, cfg.STAGE, step, { Interruptions: 1, TaskMs: Date.now() - started });
      return 143;
    }
    line("error", "step failed", { step, error: `${(error as Error).name}: ${(error as Error).message}` });
    return 1;
  } finally {
    interrupt.dispose();
    s3?.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runTrainerTask(process.env);
}
