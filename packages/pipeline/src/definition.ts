// The state machine, built as data. The stack passes real ARNs; `roadwork pipeline definition` and the local runner
// pass placeholders of the same shape, so the JSON that runs locally is the JSON that is deployed (only the
// resource identifiers differ, and `roadwork pipeline definition --stage` prints the deployed one).
//
//   VersionDataset → Train (ECS, spot) ─┬→ Evaluate (ECS) → Gate → Promote? ─┬→ Promote → Publish? → Publish → Done
//                     └ interrupted ×3 → TrainOnDemand ─┘                    └→ KeepChampion
//   any failure → NotifyFailure (SNS) → Failed
import type { StepName } from "./steps.ts";

export interface CapacityProviderItem {
  CapacityProvider: string;
  Weight: number;
  Base?: number;
}

export interface PipelineResources {
  /** The Lambda that runs the light steps (version-dataset, gate, promote). */
  stepFunctionArn: string;
  /** ECS task for the GPU steps (train, evaluate). */
  cluster: string;
  taskDefinition: string;
  containerName: string;
  /** Spot first; the on-demand strategy is the fallback after repeated interruptions. */
  spotCapacity: CapacityProviderItem[];
  onDemandCapacity: CapacityProviderItem[];
  /** The lifecycle's publish queue (SendMessage); absent = no Publish state traffic (the Choice skips it). */
  publishQueueUrl: string;
  /** The operator's alert topic. */
  alertTopicArn: string;
}

/** Seconds each state may run. */
export const STATE_TIMEOUTS = {
  versionDataset: 15 * 60,
  train: 4 * 60 * 60,
  evaluate: 60 * 60,
  gate: 5 * 60,
  promote: 5 * 60,
  publish: 60,
  notify: 60,
  /** The whole execution. */
  execution: 10 * 60 * 60,
} as const;

/** Placeholders for the local runner and the `definition` command without a stage (same shapes as the real ARNs). */
export const LOCAL_RESOURCES: PipelineResources = {
  stepFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:roadwork-local-pipeline-step",
  cluster: "arn:aws:ecs:us-east-1:000000000000:cluster/roadwork-local",
  taskDefinition: "arn:aws:ecs:us-east-1:000000000000:task-definition/roadwork-local-trainer:1",
  containerName: "trainer",
  spotCapacity: [{ CapacityProvider: "roadwork-local-gpu-spot", Weight: 1 }],
  onDemandCapacity: [{ CapacityProvider: "roadwork-local-gpu-on-demand", Weight: 1 }],
  publishQueueUrl: "http://127.0.0.1:0/000000000000/roadwork-local-publish",
  alertTopicArn: "arn:aws:sns:us-east-1:000000000000:roadwork-local-alerts",
};

/** The container environment variables that carry the step and its input into the trainer task. */
export const TASK_STEP_ENV = "ROADWORK_STEP";
export const TASK_INPUT_ENV = "ROADWORK_STEP_INPUT";

const LAMBDA_RETRY = {
  ErrorEquals: [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
  ],
  IntervalSeconds: 2,
  MaxAttempts: 3,
  BackoffRate: 2,
};
/** RunTask refused (no capacity yet, throttling): worth waiting for. */
const ECS_API_RETRY = {
  ErrorEquals: ["ECS.AmazonECSException", "ECS.ServerException", "ECS.LimitExceededException"],
  IntervalSeconds: 60,
  MaxAttempts: 3,
  BackoffRate: 2,
};
const CATCH_ALL = [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "NotifyFailure" }];

function lambdaStep(
  r: PipelineResources,
  step: StepName,
  input: Record<string, unknown> | string,
  extra: Record<string, unknown>,
) {
  return {
    Type: "Task",
    Resource: r.stepFunctionArn,
    Parameters: typeof input === "string" ? { step, "input.$": input } : { step, input },
    Retry: [LAMBDA_RETRY],
    Catch: CATCH_ALL,
    ...extra,
  };
}

function ecsStep(
  r: PipelineResources,
  step: StepName,
  inputPath: string,
  capacity: CapacityProviderItem[],
  extra: Record<string, unknown>,
) {
  return {
    Type: "Task",
    Resource: "arn:aws:states:::ecs:runTask.sync",
    Parameters: {
      Cluster: r.cluster,
      TaskDefinition: r.taskDefinition,
      CapacityProviderStrategy: capacity,
      PropagateTags: "TASK_DEFINITION",
      Overrides: {
        ContainerOverrides: [
          {
            Name: r.containerName,
            Environment: [
              { Name: TASK_STEP_ENV, Value: step },
              { Name: TASK_INPUT_ENV, "Value.$": `States.JsonToString(${inputPath})` },
            ],
          },
        ],
      },
    },
    // The task writes its results to the store; the ECS description is not kept in the state.
    ResultPath: null,
    ...extra,
  };
}

export function buildDefinition(r: PipelineResources) {
  return {
    Comment: "Roadwork retraining flywheel: dataset version → train → evaluate → gate → promote → publish",
    StartAt: "VersionDataset",
    TimeoutSeconds: STATE_TIMEOUTS.execution,
    States: {
      VersionDataset: lambdaStep(r, "version-dataset", "$", {
        ResultPath: "$.version",
        TimeoutSeconds: STATE_TIMEOUTS.versionDataset,
        Next: "Train",
      }),
      Train: ecsStep(r, "train", "$.version.trainJob", r.spotCapacity, {
        TimeoutSeconds: STATE_TIMEOUTS.train,
        Retry: [
          ECS_API_RETRY,
          // A spot reclaim or host replacement stops the task (States.TaskFailed); the next attempt resumes from the
          // checkpoint and the embedding cache, so a retry costs only what was not yet saved.
          { ErrorEquals: ["States.TaskFailed"], IntervalSeconds: 30, MaxAttempts: 2, BackoffRate: 2 },
        ],
        Catch: [
          {
            ErrorEquals: ["States.TaskFailed", "ECS.AmazonECSException"],
            ResultPath: "$.spotError",
            Next: "TrainOnDemand",
          },
          ...CATCH_ALL,
        ],
        Next: "Evaluate",
      }),
      TrainOnDemand: ecsStep(r, "train", "$.version.trainJob", r.onDemandCapacity, {
        TimeoutSeconds: STATE_TIMEOUTS.train,
        Retry: [ECS_API_RETRY, { ErrorEquals: ["States.TaskFailed"], IntervalSeconds: 30, MaxAttempts: 1 }],
        Catch: CATCH_ALL,
        Next: "Evaluate",
      }),
      Evaluate: ecsStep(r, "evaluate", "$.version.evaluateJob", r.onDemandCapacity, {
        TimeoutSeconds: STATE_TIMEOUTS.evaluate,
        Retry: [
          ECS_API_RETRY,
          { ErrorEquals: ["States.TaskFailed"], IntervalSeconds: 30, MaxAttempts: 2, BackoffRate: 2 },
        ],
        Catch: CATCH_ALL,
        Next: "Gate",
      }),
      Gate: lambdaStep(
        r,
        "gate",
        { "runId.$": "$.runId", "gate.$": "$.gate" },
        { ResultPath: "$.decision", TimeoutSeconds: STATE_TIMEOUTS.gate, Next: "PromoteChallenger" },
      ),
      PromoteChallenger: {
        Type: "Choice",
        Choices: [{ Variable: "$.decision.decision", StringEquals: "promote", Next: "Promote" }],
        Default: "KeepChampion",
      },
      KeepChampion: { Type: "Succeed", Comment: "the challenger did not earn promotion; the champion keeps serving" },
      Promote: lambdaStep(
        r,
        "promote",
        { "runId.$": "$.runId" },
        { ResultPath: "$.promotion", TimeoutSeconds: STATE_TIMEOUTS.promote, Next: "PublishConfigured" },
      ),
      PublishConfigured: {
        Type: "Choice",
        // Written as "IsNull: true → Done" (not "IsNull: false → Publish"): aws-local-stepfunctions treats
        // IsNull: false as never matching, and the same JSON must behave the same in both places.
        Choices: [{ Variable: "$.promotion.publish", IsNull: true, Next: "Done" }],
        Default: "Publish",
      },
      // The publish consumer (functions/publish-model.ts) uploads to Hugging Face, registers with NATIX when
      // configured, and writes the submission record that restarts the decay clock.
      Publish: {
        Type: "Task",
        Resource: "arn:aws:states:::sqs:sendMessage",
        Parameters: { QueueUrl: r.publishQueueUrl, "MessageBody.$": "States.JsonToString($.promotion.publish)" },
        ResultSelector: { "MessageId.$": "$.MessageId" },
        ResultPath: "$.published",
        TimeoutSeconds: STATE_TIMEOUTS.publish,
        Retry: [{ ErrorEquals: ["States.ALL"], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }],
        Catch: CATCH_ALL,
        Next: "Done",
      },
      Done: { Type: "Succeed" },
      NotifyFailure: {
        Type: "Task",
        Resource: "arn:aws:states:::sns:publish",
        Parameters: {
          TopicArn: r.alertTopicArn,
          Subject: "[roadwork] retraining pipeline failed",
          "Message.$": "States.JsonToString($)",
          MessageAttributes: { alertId: { DataType: "String", StringValue: "pipeline-failed" } },
        },
        ResultPath: null,
        TimeoutSeconds: STATE_TIMEOUTS.notify,
        Retry: [{ ErrorEquals: ["States.ALL"], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }],
        Next: "Failed",
      },
      Failed: { Type: "Fail", Error: "PipelineFailed", Cause: "a step failed; the operator was notified" },
    },
  };
}

export type PipelineDefinition = ReturnType<typeof buildDefinition>;

/** The states that run project code, and which step each one calls (for the local runner and the docs). */
export function taskSteps(definition: PipelineDefinition): Record<string, StepName | "publish" | "notify"> {
  const out: Record<string, StepName | "publish" | "notify"> = {};
  for (const [name, s] of Object.entries(definition.States) as [string, Record<string, unknown>][]) {
    if (s.Type !== "Task") continue;
    const resource = String(s.Resource);
    const params = s.Parameters as Record<string, unknown>;
    if (resource.endsWith(":sqs:sendMessage")) out[name] = "publish";
    else if (resource.endsWith(":sns:publish")) out[name] = "notify";
    else if (resource.includes(":ecs:runTask")) {
      const env = (params.Overrides as { ContainerOverrides: { Environment: { Name: string; Value?: string }[] }[] })
        .ContainerOverrides[0]!.Environment;
      out[name] = env.find((e) => e.Name === TASK_STEP_ENV)!.Value as StepName;
    } else out[name] = params.step as StepName;
  }
  return out;
}
