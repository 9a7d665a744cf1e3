// The retraining state machine on AWS. Its definition is `buildDefinition` from @roadwork/pipeline, the function the
// local runner and `roadwork pipeline definition` call, given the real ARNs here (CDK tokens, resolved by
// CloudFormation), so the JSON that ran locally is the JSON deployed. Around it: the trainer task on two GPU capacity
// providers at zero (spot first, on-demand fallback) in a cluster of its own, the step Lambda, the publish queue of the
// Lifecycle stack, the Alarms topic for failures, and the retrain trigger that consumes the decay check's requests.
//
// Why a cluster of its own and not the Miner's: a cluster's capacity providers are one CloudFormation resource
// (ClusterCapacityProviderAssociations) owned by the Miner stack; adding the GPU providers from here would replace the
// axon's or make the two stacks depend on each other.

import { buildDefinition, type PipelineResources } from "@roadwork/pipeline/definition";
import { Duration, RemovalPolicy, Tags } from "aws-cdk-lib";
import * as ecr from "aws-cdk-lib/aws-ecr";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { NagSuppressions } from "cdk-nag";
import { Function as SstFunction, type StackContext, use } from "sst/constructs";
import { useProject } from "sst/project.js";
import { Alarms } from "./Alarms.ts";
import { stageConfigFor } from "./config.ts";
import { gpuCapacity } from "./gpu-capacity.ts";
import { Lifecycle, MODEL_RECORD_KEY } from "./Lifecycle.ts";
import { CAPTURES_PREFIX, Miner } from "./Miner.ts";
import { suppressSstStackHandler } from "./nag.ts";
import { DEFAULT_ROLLBACK_WINDOW_MINUTES, pipelineWatchers } from "./pipeline-watchers.ts";
import { RAW_PREDICTIONS_PREFIX, Storage } from "./Storage.ts";

export const TRAINER_CONTAINER = "trainer";
/** Where the pipeline's store lives in the models bucket (the publish consumer may read only models/*). */
export const PIPELINE_STORE_PREFIX = "models/pipeline/";
export const POINTER_KEY = "models/current.json";
/** GPU hosts for train/evaluate: spot pools first, one on-demand type as the fallback. */
export const TRAINER_SPOT_TYPES = ["g5.xlarge", "g6.xlarge", "g4dn.xlarge"];
export const TRAINER_ON_DEMAND_TYPE = "g5.xlarge";
/** The dataset a decay-driven retrain trains on (a store key the version step reads). */
export const RETRAIN_DATASET_MANIFEST = "datasets/latest/manifest.json";
/** The dataset store in the datasets bucket (the synthetic batches and the capture export commit versions there). */
export const DATASET_STORE_PREFIX = "dataset/";

export const retrainStateMachineName = (stage: string) => `roadwork-${stage}-retrain`;

export function Pipeline({ stack, app }: StackContext) {
  const config = stageConfigFor(app);
  const { models, predictions, datasets } = use(Storage);
  const { topic } = use(Alarms);
  const { vpc } = use(Miner);
  const { publishQueue, retrainQueue } = use(Lifecycle);
  suppressSstStackHandler(stack);
  const logGroup = (id: string) =>
    new logs.LogGroup(stack, `${id}Logs`, {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });

  // ---- GPU capacity at zero: ECS managed scaling starts a host when RunTask asks for one ------------------------
  const trainerHosts = gpuCapacity(stack, {
    vpc,
    alertTopic: topic,
    name: "Trainer",
    hostDescription: "Trainer GPU host: no inbound, outbound to S3/ECR/CloudWatch",
    rootVolumeGiB: 100,
    pools: [
      { groupId: "TrainerSpotHosts", providerId: "TrainerSpotCapacity", instanceTypes: TRAINER_SPOT_TYPES, spot: true },
      {
        groupId: "TrainerOnDemandHosts",
        providerId: "TrainerOnDemandCapacity",
        instanceTypes: [TRAINER_ON_DEMAND_TYPE],
        spot: false,
      },
    ],
  });
  const { cluster } = trainerHosts;
  const [spotCapacity, onDemandCapacity] = trainerHosts.providers as [ecs.AsgCapacityProvider, ecs.AsgCapacityProvider];

  // ---- The trainer task (containers/trainer) --------------------------------------------------------------------
  const taskDefinition = new ecs.Ec2TaskDefinition(stack, "TrainerTask");
  taskDefinition.addContainer(TRAINER_CONTAINER, {
    image: trainerImage(stack, config.stage, process.env.ROADWORK_TRAINER_IMAGE_TAG),
    memoryReservationMiB: 12_000,
    gpuCount: 1,
    // Enough for the SIGTERM checkpoint: a cache flush and one small JSON (containers/trainer/Dockerfile).
    stopTimeout: Duration.seconds(120),
    environment: {
      STAGE: config.stage,
      ROADWORK_STORE: `s3://${models.bucketName}/${PIPELINE_STORE_PREFIX}`,
      ROADWORK_POINTER: `s3://${models.bucketName}/${POINTER_KEY}`,
      ROADWORK_DEVICE: "cuda",
    },
    logging: ecs.LogDrivers.awsLogs({ streamPrefix: "trainer", logGroup: logGroup("Trainer") }),
  });
  // The task writes its run, cache and bundle under the store and reads the champion's bundle (models/*).
  models.grantRead(taskDefinition.taskRole, "models/*");
  models.grantReadWrite(taskDefinition.taskRole, `${PIPELINE_STORE_PREFIX}*`);

  // ---- The light steps (version-dataset, gate, promote) ---------------------------------------------------------
  const stepFunction = new SstFunction(stack, "RetrainStep", {
    handler: "functions/retrain-step.handler",
    runtime: "nodejs22.x",
    architecture: "x86_64",
    memorySize: 3008,
    diskSize: 2048,
    timeout: 15 * 60,
    tracing: "active",
    logGroup: logGroup("RetrainStep"),
    environment: {
      STAGE: config.stage,
      POWERTOOLS_SERVICE_NAME: "retrain-step",
      POWERTOOLS_METRICS_NAMESPACE: "RoadworkMiner",
      POWERTOOLS_LOG_LEVEL: "INFO",
      MODELS_BUCKET: models.bucketName,
      STORE_PREFIX: PIPELINE_STORE_PREFIX,
      POINTER_KEY,
    },
    // Native modules (Promote probes the bundle with onnxruntime): installed for Lambda at deploy; in-repo synthesis
    // (tests, `npm run cost`) is offline, so there they are only kept out of the bundle.
    nodejs:
      process.env.NODE_ENV === "test"
        ? { esbuild: { external: ["sharp", "onnxruntime-node"] } }
        : { install: ["sharp", "onnxruntime-node"] },
  });
  models.grantReadWrite(stepFunction, `${PIPELINE_STORE_PREFIX}*`);
  models.grantRead(stepFunction, "models/*");
  // version-dataset copies datasets/latest's images from the dataset store it names (imageRoot).
  datasets.grantRead(stepFunction, `${DATASET_STORE_PREFIX}*`);
  // The one atomic pointer write (conditional PUT) and its human-readable copy.
  models.grantPut(stepFunction, POINTER_KEY);
  models.grantPut(stepFunction, "models/previous.json");

  // ---- The state machine ----------------------------------------------------------------------------------------
  const resources: PipelineResources = {
    stepFunctionArn: stepFunction.functionArn,
    cluster: cluster.clusterArn,
    taskDefinition: taskDefinition.taskDefinitionArn,
    containerName: TRAINER_CONTAINER,
    spotCapacity: [{ CapacityProvider: spotCapacity.capacityProviderName, Weight: 1 }],
    onDemandCapacity: [{ CapacityProvider: onDemandCapacity.capacityProviderName, Weight: 1 }],
    publishQueueUrl: publishQueue.queueUrl,
    alertTopicArn: topic.topicArn,
  };
  const definition = buildDefinition(resources);
  const machineLogs = new logs.LogGroup(stack, "RetrainStateMachineLogs", {
    // Step Functions vended logs need the /aws/vendedlogs/ prefix to stay under the resource-policy size limit.
    logGroupName: `/aws/vendedlogs/states/${retrainStateMachineName(config.stage)}`,
    retention: config.logRetentionDays as logs.RetentionDays,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const stateMachine = new sfn.StateMachine(stack, "RetrainStateMachine", {
    stateMachineName: retrainStateMachineName(config.stage),
    definitionBody: sfn.DefinitionBody.fromString(stack.toJsonString(definition)),
    logs: { destination: machineLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
    tracingEnabled: true,
  });
  // `roadwork model rollback --stage` and `roadwork pipeline definition --stage` find the bucket through this tag.
  Tags.of(stateMachine).add("roadwork:models-bucket", models.bucketName);

  // Least privilege for the definition's tasks (fromString: CDK cannot infer them).
  stepFunction.grantInvoke(stateMachine);
  publishQueue.grantSendMessages(stateMachine);
  topic.grantPublish(stateMachine);
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({
      sid: "RunTrainerTask",
      actions: ["ecs:RunTask"],
      resources: [taskDefinition.taskDefinitionArn],
      conditions: { ArnEquals: { "ecs:cluster": cluster.clusterArn } },
    }),
  );
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({
      sid: "WatchTrainerTask",
      actions: ["ecs:StopTask", "ecs:DescribeTasks"],
      resources: [stack.formatArn({ service: "ecs", resource: "task", resourceName: `${cluster.clusterName}/*` })],
    }),
  );
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({
      sid: "PassTrainerRoles",
      actions: ["iam:PassRole"],
      resources: [taskDefinition.taskRole.roleArn, taskDefinition.obtainExecutionRole().roleArn],
    }),
  );
  // runTask.sync waits through the managed rule Step Functions creates for ECS task state changes.
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({
      sid: "EcsSyncRule",
      actions: ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
      resources: [
        stack.formatArn({ service: "events", resource: "rule", resourceName: "StepFunctionsGetEventsForECSTaskRule" }),
      ],
    }),
  );

  // ---- The retrain trigger --------------------------------------------------------------------------------------
  const trigger = new SstFunction(stack, "RetrainTrigger", {
    handler: "functions/retrain-trigger.handler",
    runtime: "nodejs22.x",
    architecture: "arm_64",
    memorySize: 256,
    timeout: 30,
    tracing: "active",
    logGroup: logGroup("RetrainTrigger"),
    environment: {
      STAGE: config.stage,
      POWERTOOLS_SERVICE_NAME: "retrain-trigger",
      POWERTOOLS_METRICS_NAMESPACE: "RoadworkMiner",
      POWERTOOLS_LOG_LEVEL: "INFO",
      STATE_MACHINE_ARN: stateMachine.stateMachineArn,
      DATASET_MANIFEST: RETRAIN_DATASET_MANIFEST,
    },
  });
  stateMachine.grantStartExecution(trigger);
  trigger.addToRolePolicy(
    new iam.PolicyStatement({
      sid: "SeeRunningExecutions",
      actions: ["states:ListExecutions"],
      resources: [stateMachine.stateMachineArn],
    }),
  );
  trigger.addEventSource(new SqsEventSource(retrainQueue, { batchSize: 1, reportBatchItemFailures: true }));

  // ---- Drift check and automatic rollback (stacks/pipeline-watchers.ts) -------------------------------------------
  const watchers = pipelineWatchers(stack, {
    stage: config.stage,
    logRetentionDays: config.logRetentionDays as logs.RetentionDays,
    models,
    datasets,
    capturesPrefix: CAPTURES_PREFIX,
    datasetPrefix: DATASET_STORE_PREFIX,
    predictions,
    predictionsPrefix: RAW_PREDICTIONS_PREFIX,
    storePrefix: PIPELINE_STORE_PREFIX,
    pointerKey: POINTER_KEY,
    modelRecordKey: MODEL_RECORD_KEY,
    retrainQueue,
    alertTopic: topic,
    rollbackWindowMinutes: Number(process.env.ROADWORK_ROLLBACK_WINDOW_MINUTES ?? DEFAULT_ROLLBACK_WINDOW_MINUTES),
    miningBudget: Number(process.env.ROADWORK_MINING_BUDGET ?? (config.stage === "mainnet" ? 200 : 50)),
  });

  // ---- cdk-nag: every suppression says why ----------------------------------------------------------------------
  for (const fn of [stepFunction, trigger, watchers.captureExport, watchers.drift, watchers.rollback]) {
    NagSuppressions.addResourceSuppressions(
      fn,
      [
        {
          id: "AwsSolutions-IAM4",
          appliesTo: ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
          reason: "The basic execution policy only lets the function write its own CloudWatch logs.",
        },
        {
          id: "AwsSolutions-IAM5",
          reason:
            "Wildcards are S3 object patterns under models/ of the models bucket, captures/ and dataset/ of the datasets bucket and raw/ of the predictions bucket, and X-Ray trace writes (no resource-level permissions).",
        },
        { id: "AwsSolutions-L1", reason: "nodejs22.x is the runtime this project standardises on." },
      ],
      true,
    );
  }
  NagSuppressions.addResourceSuppressions(
    stateMachine,
    [
      {
        id: "AwsSolutions-IAM5",
        reason:
          "The step Lambda's ':*' (its versions), the trainer's tasks in this cluster (task ids are generated), and the " +
          "X-Ray and log-delivery actions, which have no resource-level permissions.",
      },
    ],
    true,
  );
  NagSuppressions.addResourceSuppressions(
    taskDefinition,
    [
      {
        id: "AwsSolutions-ECS2",
        reason: "The environment holds only bucket locations, the stage and the device; no secret.",
      },
      {
        id: "AwsSolutions-IAM5",
        reason: "S3 object patterns under models/ of the models bucket (the pipeline store and the champion's bundle).",
      },
    ],
    true,
  );

  stack.addOutputs({ RetrainStateMachineArn: stateMachine.stateMachineArn });
  return { stateMachine, definition, resources, cluster, taskDefinition, stepFunction, trigger, ...watchers };
}

/**
 * The trainer image: built from containers/trainer/Dockerfile by `sst deploy` (a CDK image asset; synthesis only
 * fingerprints the build context, the repository root filtered by .dockerignore), or, when
 * ROADWORK_TRAINER_IMAGE_TAG is set, that tag of the stage's own repository `roadwork-<stage>-trainer`, pushed by the
 * operator (a deploy without Docker, or a pinned image).
 */
function trainerImage(stack: StackContext["stack"], stage: string, tag: string | undefined): ecs.ContainerImage {
  if (tag) {
    const repository = ecr.Repository.fromRepositoryName(stack, "TrainerRepository", `roadwork-${stage}-trainer`);
    return ecs.ContainerImage.fromEcrRepository(repository, tag);
  }
  return ecs.ContainerImage.fromAsset(useProject().paths.root, {
    file: "containers/trainer/Dockerfile",
    platform: Platform.LINUX_AMD64,
  });
}
