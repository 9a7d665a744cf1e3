// The retraining state machine's light steps (version-dataset, gate, promote) as one Lambda: the state passes
// {step, input}; the store is the models bucket's pipeline prefix and the pointer models/current.json, the same
// objects the trainer task and the axon read. The heavy steps (train, evaluate) run in containers/trainer.
import { S3Client } from "@aws-sdk/client-s3";
import { type PipelineContext, S3PointerStore, S3Store, STEPS } from "@roadwork/pipeline";
import { demoBackboneInput } from "@roadwork/training";
import { z } from "zod";
import { parseEnv } from "./lib/env.ts";
import { logger, tracer } from "./lib/powertools.ts";

export const RetrainStepEnv = z.object({
  MODELS_BUCKET: z.string().min(3),
  STORE_PREFIX: z.string().default("models/pipeline/"),
  POINTER_KEY: z.string().default("models/current.json"),
  PUBLISH_REPO: z.string().optional(),
  PUBLISH_UID: z.coerce.number().int().nonnegative().optional(),
});

export const StepEvent = z.object({ step: z.enum(["version-dataset", "gate", "promote"]), input: z.unknown() });

export function stepContext(s3: S3Client, env: z.infer<typeof RetrainStepEnv>): PipelineContext {
  return {
    store: new S3Store(s3, env.MODELS_BUCKET, env.STORE_PREFIX),
    pointer: new S3PointerStore(s3, env.MODELS_BUCKET, env.POINTER_KEY),
    // The light steps never embed; the backbone is named only for the version record.
    backbone: async () => demoBackboneInput(),
    s3,
    executionProvider: "cpu",
    ...(env.PUBLISH_REPO && env.PUBLISH_UID !== undefined
      ? { publish: { repo: env.PUBLISH_REPO, uid: env.PUBLISH_UID } }
      : {}),
    log: (event, data) => logger.info(event, data ?? {}),
  };
}

/** The handler over a context; the composition root below builds it from the environment on first use. */
export function createRetrainStepHandler(resolveContext: () => PipelineContext) {
  return async (event: unknown): Promise<unknown> => {
    const parsed = StepEvent.safeParse(event);
    if (!parsed.success) {
      throw new Error(`retrain-step expects {step, input} from the state machine: ${parsed.error.issues[0]?.message}`);
    }
    const { step, input } = parsed.data;
    logger.info("pipeline step", { step });
    return (STEPS[step] as (raw: unknown, c: PipelineContext) => Promise<unknown>)(input, resolveContext());
  };
}

let ctx: PipelineContext | undefined;
export const handler = createRetrainStepHandler(() => {
  ctx ??= stepContext(
    tracer.captureAWSv3Client(new S3Client({})),
    parseEnv(RetrainStepEnv, process.env, "retrain-step"),
  );
  return ctx;
});
