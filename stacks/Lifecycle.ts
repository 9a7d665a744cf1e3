// Model lifecycle in AWS: a daily decay check (EventBridge -> Lambda) that alerts the operator topic before and while
// the reward decays and asks for retraining early enough, and the publish Lambda (SQS with DLQ) that takes a promoted
// bundle to Hugging Face and NATIX. Secrets stay in Secrets Manager; the functions get ARNs, never values.
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { NagSuppressions } from "cdk-nag";
import { Function as SstFunction, type Stack, type StackContext, use } from "sst/constructs";
import { Alarms } from "./Alarms.ts";
import { resourceNames, type StageConfig, stageConfigFor } from "./config.ts";
import { suppressSstStackHandler } from "./nag.ts";
import { Storage } from "./Storage.ts";

/** Where the decay clock's record and its alert ledgers live inside the models bucket. */
export const MODEL_RECORD_KEY = "models/submission.json";
/** The daily check runs at 01:00 UTC. */
export const DECAY_CHECK_SCHEDULE = { minute: "0", hour: "1" } as const;
export const PUBLISH_TIMEOUT = Duration.minutes(10);
/** The subnet watch (pulse, runaway GPU tasks, opt-in pause) runs every 15 minutes. */
export const SUBNET_WATCH_EVERY = Duration.minutes(15);
/**
 * Receives before a publish request dead-letters. No reserved concurrency (new accounts have 10 concurrent executions
 * and Lambda refuses a reservation that leaves fewer than 10 unreserved): the event source's maxConcurrency caps the
 * pollers instead, so the function is never throttled and throttles never count as receives.
 */
export const PUBLISH_MAX_RECEIVE_COUNT = 5;
/** The smallest maxConcurrency an SQS event source accepts. */
export const PUBLISH_MAX_CONCURRENCY = 2;
export const RETRAIN_MAX_RECEIVE_COUNT = 3;

export interface LifecycleResourcesProps {
  stage: string;
  modelsBucket: s3.IBucket;
  alertTopic: sns.ITopic;
  hotkeySecretName: string;
  hfTokenSecretName: string;
  logRetentionDays: logs.RetentionDays;
  /** Optional steps (stacks/config.ts): publishing the model card to Hugging Face, registering with NATIX. */
  publishModelCard?: boolean;
  natixRegistration?: boolean;
  /** The subnet watch needs the stage's chain, hotkey and axon names; absent: no watch. */
  watch?: StageConfig;
}

export function Lifecycle({ stack, app }: StackContext) {
  const config = stageConfigFor(app);
  const { models } = use(Storage);
  const { topic } = use(Alarms);
  suppressSstStackHandler(stack);
  return lifecycleResources(stack, {
    stage: config.stage,
    modelsBucket: models,
    alertTopic: topic,
    hotkeySecretName: config.hotkeySecretName,
    hfTokenSecretName: `roadwork/${config.stage}/hf-token`,
    logRetentionDays: config.logRetentionDays as logs.RetentionDays,
    publishModelCard: config.publishModelCard,
    natixRegistration: config.natixRegistration,
    watch: config,
  });
}

/** The resources, from explicit inputs, so the stack can also be built beside other bucket/topic sources. */
export function lifecycleResources(stack: Stack, props: LifecycleResourcesProps) {
  const { modelsBucket, alertTopic } = props;

  const secureQueue = {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  } satisfies sqs.QueueProps;

  const publishDlq = new sqs.Queue(stack, "PublishDeadLetters", { ...secureQueue, retentionPeriod: Duration.days(14) });
  const publishQueue = new sqs.Queue(stack, "PublishRequests", {
    ...secureQueue,
    // AWS guidance for SQS event sources: at least six times the function timeout.
    visibilityTimeout: Duration.minutes(PUBLISH_TIMEOUT.toMinutes() * 6),
    retentionPeriod: Duration.days(4),
    deadLetterQueue: { queue: publishDlq, maxReceiveCount: PUBLISH_MAX_RECEIVE_COUNT },
  });
  const retrainDlq = new sqs.Queue(stack, "RetrainDeadLetters", { ...secureQueue, retentionPeriod: Duration.days(14) });
  const retrainQueue = new sqs.Queue(stack, "RetrainRequests", {
    ...secureQueue,
    visibilityTimeout: Duration.minutes(15),
    retentionPeriod: Duration.days(14),
    deadLetterQueue: { queue: retrainDlq, maxReceiveCount: RETRAIN_MAX_RECEIVE_COUNT },
  });
  // Scheduled invocations that still fail after EventBridge's retries land here instead of vanishing.
  const scheduleDlq = new sqs.Queue(stack, "ScheduleDeadLetters", {
    ...secureQueue,
    retentionPeriod: Duration.days(14),
  });
  for (const dlq of [publishDlq, retrainDlq, scheduleDlq]) {
    NagSuppressions.addResourceSuppressions(dlq, [
      {
        id: "AwsSolutions-SQS3",
        reason: "This queue is itself a dead-letter queue; its depth alarm notifies the operator.",
      },
    ]);
  }

  const hotkey = secretsmanager.Secret.fromSecretNameV2(stack, "LifecycleHotkey", props.hotkeySecretName);
  const hfToken = secretsmanager.Secret.fromSecretNameV2(stack, "HuggingFaceToken", props.hfTokenSecretName);

  const powertools = (service: string) => ({
    STAGE: props.stage,
    POWERTOOLS_SERVICE_NAME: service,
    POWERTOOLS_METRICS_NAMESPACE: "RoadworkMiner",
    POWERTOOLS_LOG_LEVEL: "INFO",
  });
  const logGroup = (id: string) =>
    new logs.LogGroup(stack, `${id}Logs`, { retention: props.logRetentionDays, removalPolicy: RemovalPolicy.DESTROY });

  const decayCheck = new SstFunction(stack, "DecayCheck", {
    handler: "functions/decay-check.handler",
    runtime: "nodejs22.x",
    architecture: "arm_64",
    memorySize: 256,
    timeout: 60,
    tracing: "active",
    logGroup: logGroup("DecayCheck"),
    environment: {
      ...powertools("decay-check"),
      MODELS_BUCKET: modelsBucket.bucketName,
      MODEL_RECORD_KEY,
      ALERT_TOPIC_ARN: alertTopic.topicArn,
      RETRAIN_QUEUE_URL: retrainQueue.queueUrl,
    },
  });
  // Least privilege: read the record, read/write only the alert ledgers beside it.
  modelsBucket.grantRead(decayCheck, MODEL_RECORD_KEY);
  modelsBucket.grantReadWrite(decayCheck, "models/alerts-*.json");
  alertTopic.grantPublish(decayCheck);
  retrainQueue.grantSendMessages(decayCheck);

  new events.Rule(stack, "DailyDecayCheck", {
    description: "Daily reward-decay check of the submitted model",
    schedule: events.Schedule.cron(DECAY_CHECK_SCHEDULE),
    targets: [
      new targets.LambdaFunction(decayCheck, {
        retryAttempts: 2,
        maxEventAge: Duration.hours(6),
        deadLetterQueue: scheduleDlq,
      }),
    ],
  });

  const publishModel = new SstFunction(stack, "PublishModel", {
    handler: "functions/publish-model.handler",
    runtime: "nodejs22.x",
    architecture: "arm_64",
    // The bundle is held in memory while it is hashed and uploaded.
    memorySize: 3008,
    diskSize: 2048,
    timeout: PUBLISH_TIMEOUT.toSeconds(),
    tracing: "active",
    logGroup: logGroup("PublishModel"),
    environment: {
      ...powertools("publish-model"),
      MODELS_BUCKET: modelsBucket.bucketName,
      MODEL_RECORD_KEY,
      HF_TOKEN_SECRET_ARN: hfToken.secretArn,
      HOTKEY_SECRET_ARN: hotkey.secretArn,
      ALERT_TOPIC_ARN: alertTopic.topicArn,
      NATIX_REGISTRATION: props.natixRegistration === true ? "on" : "off",
    },
  });
  alertTopic.grantPublish(publishModel);
  modelsBucket.grantRead(publishModel, "models/*");
  modelsBucket.grantPut(publishModel, "models/publish/*");
  modelsBucket.grantPut(publishModel, MODEL_RECORD_KEY);
  hotkey.grantRead(publishModel);
  hfToken.grantRead(publishModel);
  // Two versions racing for one repo are kept apart by the function's per-version checkpoint (conditional writes);
  // maxConcurrency only bounds the pollers. Off (publishModelCard false): requests wait in the queue, unpublished.
  publishModel.addEventSource(
    new SqsEventSource(publishQueue, {
      batchSize: 1,
      reportBatchItemFailures: true,
      maxConcurrency: PUBLISH_MAX_CONCURRENCY,
      enabled: props.publishModelCard !== false,
    }),
  );

  let subnetWatch: SstFunction | undefined;
  if (props.watch) {
    const config = props.watch;
    const names = resourceNames(config);
    subnetWatch = new SstFunction(stack, "SubnetWatch", {
      handler: "functions/subnet-watch.handler",
      runtime: "nodejs22.x",
      architecture: "arm_64",
      memorySize: 512,
      timeout: 120,
      tracing: "active",
      logGroup: logGroup("SubnetWatch"),
      environment: {
        ...powertools("subnet-watch"),
        NETUID: String(config.netuid),
        CHAIN_ENDPOINT: config.chainEndpoint,
        HOTKEY_SECRET_ARN: hotkey.secretArn,
        STATE_BUCKET: modelsBucket.bucketName,
        STATE_KEY: names.pulseStateKey,
        ALERT_TOPIC_ARN: alertTopic.topicArn,
        AXON_ASG: names.autoScalingGroup,
        AXON_CLUSTER: names.cluster,
        AXON_SERVICE: names.axonService,
        PAUSE_AFTER_DAYS: config.pauseAfterDays === undefined ? "" : String(config.pauseAfterDays),
        TRAINER_MAX_HOURS: String(config.gpuTaskMaxHours.trainer),
        GENERATOR_MAX_HOURS: String(config.gpuTaskMaxHours.generator),
      },
    });
    modelsBucket.grantReadWrite(subnetWatch, names.pulseStateKey);
    hotkey.grantRead(subnetWatch);
    alertTopic.grantPublish(subnetWatch);
    subnetWatch.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "SweepTasks",
        actions: ["ecs:ListClusters", "ecs:ListTasks", "ecs:DescribeTasks"],
        resources: ["*"],
      }),
    );
    subnetWatch.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "PauseOrResumeAxonService",
        actions: ["ecs:UpdateService"],
        resources: [
          stack.formatArn({
            service: "ecs",
            resource: "service",
            resourceName: `${names.cluster}/${names.axonService}`,
          }),
        ],
      }),
    );
    subnetWatch.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "PauseOrResumeAxonHost",
        actions: ["autoscaling:UpdateAutoScalingGroup"],
        resources: [
          stack.formatArn({
            service: "autoscaling",
            resource: "autoScalingGroup",
            resourceName: `*:autoScalingGroupName/${names.autoScalingGroup}`,
          }),
        ],
      }),
    );
    new events.Rule(stack, "SubnetWatchSchedule", {
      description: "Subnet pulse, runaway GPU tasks and the opt-in pause of the axon host",
      schedule: events.Schedule.rate(SUBNET_WATCH_EVERY),
      targets: [
        new targets.LambdaFunction(subnetWatch, {
          retryAttempts: 2,
          maxEventAge: Duration.minutes(30),
          deadLetterQueue: scheduleDlq,
        }),
      ],
    });
  }

  // The operator hears about a stuck publish or a failing check, not only about decay.
  const notify = new actions.SnsAction(alertTopic);
  const alarm = (id: string, description: string, metric: cloudwatch.IMetric) => {
    const a = new cloudwatch.Alarm(stack, id, {
      alarmName: `roadwork-${props.stage}-${id.replace(/Alarm$/, "").replace(/[A-Z]/g, (c, i) => (i ? "-" : "") + c.toLowerCase())}`,
      alarmDescription: description,
      metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    a.addAlarmAction(notify);
    return a;
  };
  alarm(
    "PublishDeadLettersAlarm",
    `A model publish failed ${PUBLISH_MAX_RECEIVE_COUNT} times and is in the dead-letter queue: see the PublishModel logs, fix, then redrive.`,
    publishDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" }),
  );
  alarm(
    "RetrainDeadLettersAlarm",
    `A retrain request failed ${RETRAIN_MAX_RECEIVE_COUNT} times and is in the dead-letter queue: see the retrain logs, fix, then redrive.`,
    retrainDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" }),
  );
  alarm(
    "ScheduleDeadLettersAlarm",
    "A scheduled check (decay, subnet watch) could not be delivered after retries: see its dead-letter queue.",
    scheduleDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" }),
  );
  alarm(
    "DecayCheckErrorsAlarm",
    "The daily decay check failed: decay alerts and the retrain trigger are not being evaluated.",
    decayCheck.metricErrors({ period: Duration.hours(1), statistic: "Sum" }),
  );

  suppressFunctionFindings([decayCheck, publishModel, ...(subnetWatch ? [subnetWatch] : [])]);

  stack.addOutputs({
    PublishQueueUrl: publishQueue.queueUrl,
    RetrainQueueUrl: retrainQueue.queueUrl,
    HuggingFaceTokenSecret: props.hfTokenSecretName,
  });
  return { decayCheck, publishModel, publishQueue, publishDlq, retrainQueue, retrainDlq, scheduleDlq, subnetWatch };
}

function suppressFunctionFindings(functions: SstFunction[]): void {
  for (const fn of functions) {
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
            "Wildcards are scoped: S3 object patterns under models/ in one bucket, the '-??????' suffix Secrets " +
            "Manager appends to secret ARNs, X-Ray trace writes and ECS List/DescribeTasks (read-only), which have " +
            "no resource-level permissions, and the Auto Scaling group ARN's generated id segment.",
        },
        {
          id: "AwsSolutions-L1",
          reason: "nodejs22.x is the runtime this project standardises on (nodejs20.x can no longer be created).",
        },
      ],
      true,
    );
  }
}
