// Retrain queue (filled by the decay check) → one retraining execution per request. The execution name is derived
// from the request (submission time), so a redelivered or duplicated request is the same execution
// (ExecutionAlreadyExists counts as success). While another execution RUNS, the request is folded into it:
// acknowledged and logged, not started (one retrain at a time, as the local runner's lock does).
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { ListExecutionsCommand, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { RetrainRequest } from "@roadwork/lifecycle";
import type { SQSRecord } from "aws-lambda";
import { z } from "zod";
import { parseEnv } from "./lib/env.ts";
import {
  logger as defaultLogger,
  metrics as defaultMetrics,
  sqsPartialBatchHandler,
  tracer,
} from "./lib/powertools.ts";

export const RetrainTriggerEnv = z.object({
  STATE_MACHINE_ARN: z.string().startsWith("arn:"),
  /** The dataset manifest a decay-driven retrain trains on (a store key). */
  DATASET_MANIFEST: z.string().min(1),
  STAGE: z.string().default("dev"),
});
export type RetrainTriggerEnv = z.infer<typeof RetrainTriggerEnv>;

export interface RetrainTriggerDeps {
  sfn: SFNClient;
  env: RetrainTriggerEnv;
  logger: Logger;
  metrics: Metrics;
}

/**
 * Deterministic per request (Step Functions names: ≤ 80, [A-Za-z0-9-_]): a decay request names the submission whose
 * reward decays, a drift request the UTC day it was found, so each asks for one execution.
 */
export function executionName(request: RetrainRequest): string {
  if (request.reason === "drift") return `drift-${request.requestedAt.slice(0, 10)}`;
  return `decay-${request.submissionTime}`;
}

export type TriggerOutcome = "started" | "already-started" | "folded";

export async function processRetrainRecord(deps: RetrainTriggerDeps, record: SQSRecord): Promise<TriggerOutcome> {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    throw new Error(`retrain request ${record.messageId} is not JSON`);
  }
  const request = RetrainRequest.parse(body);
  const name = executionName(request);
  const { sfn, env, logger } = deps;
  const running = await sfn.send(
    new ListExecutionsCommand({ stateMachineArn: env.STATE_MACHINE_ARN, statusFilter: "RUNNING", maxResults: 10 }),
  );
  const other = (running.executions ?? []).find((e) => e.name !== name);
  if (other) {
    logger.info("retrain request folded into the running execution", {
      request: name,
      running: other.name,
      submissionTime: request.submissionTime,
    });
    deps.metrics.addMetric("RetrainFolded", MetricUnit.Count, 1);
    return "folded";
  }
  const input = {
    runId: name,
    reason: request.reason,
    requestedAt: request.requestedAt,
    dataset: { manifest: env.DATASET_MANIFEST },
  };
  try {
    await sfn.send(
      new StartExecutionCommand({ stateMachineArn: env.STATE_MACHINE_ARN, name, input: JSON.stringify(input) }),
    );
  } catch (error) {
    // Same name, same input: the execution this request already started (also within the 90-day name window).
    if ((error as Error).name === "ExecutionAlreadyExists") {
      logger.info("retrain execution already started", { execution: name });
      return "already-started";
    }
    throw error;
  }
  logger.info("retrain execution started", { execution: name, currentVersion: request.currentVersion });
  deps.metrics.addMetric("RetrainStarted", MetricUnit.Count, 1);
  return "started";
}

export function createRetrainTriggerHandler(resolveDeps: () => RetrainTriggerDeps) {
  return sqsPartialBatchHandler(resolveDeps, processRetrainRecord, { failureMessage: "retrain trigger failed" });
}

let deps: RetrainTriggerDeps | undefined;
export const handler = createRetrainTriggerHandler(() => {
  deps ??= {
    sfn: tracer.captureAWSv3Client(new SFNClient({})),
    env: parseEnv(RetrainTriggerEnv, process.env, "retrain-trigger"),
    logger: defaultLogger,
    metrics: defaultMetrics,
  };
  return deps;
});
