// Model lifecycle in AWS: a daily decay check (EventBridge -> Lambda) that alerts the operator topic before and while
// the reward decays and asks for retraining early enough, and the publish Lambda (SQS with DLQ) that takes a promoted
// bundle to Hugging Face and NATIX. Secrets stay in Secrets Manager; the functions get ARNs, never values.
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { NagSuppressions } from "cdk-nag";
import { Function as SstFunction, type Stack, type StackContext, use } from "sst/constructs";
import { Alarms } from "./Alarms.ts";
import { stageConfigFor } from "./config.ts";
import { suppressSstStackHandler } from "./nag.ts";
import { Storage } from "./Storage.ts";

/** Where the decay clock's record and its alert ledgers live inside the models bucket. */
export const MODEL_RECORD_KEY = "models/submission.json";
/** The daily check runs at 01:00 UTC. */
export const DECAY_CHECK_SCHEDULE = { minute: "0", hour: "1" } as const;
export const PUBLISH_TIMEOUT = Duration.minutes(10);
export const PUBLISH_MAX_RECEIVE_COUNT = 3;

export interface LifecycleResourcesProps {
  stage: string;
  modelsBucket: s3.IBucket;
  alertTopic: sns.ITopic;
  hotkeySecretName: string;
  hfTokenSecretName: string;
  logRetentionDays: logs.RetentionDays;
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
    deadLetterQueue: { queue: retrainDlq, maxReceiveCount: 3 },
  });
  for (const dlq of [publishDlq, retrainDlq]) {
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
    targets: [new targets.LambdaFunction(decayCheck, { retryAttempts: 2, maxEventAge: Duration.hours(6) })],
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
    // One publish at a time: two versions racing for the same repo and record makes no sense.
    reservedConcurrentExecutions: 1,
    logGroup: logGroup("PublishModel"),
    environment: {
      ...powertools("publish-model"),
      MODELS_BUCKET: modelsBucket.bucketName,
      MODEL_RECORD_KEY,
      HF_TOKEN_SECRET_ARN: hfToken.secretArn,
      HOTKEY_SECRET_ARN: hotkey.secretArn,
      ALERT_TOPIC_ARN: alertTopic.topicArn,
    },
  });
  alertTopic.grantPublish(publishModel);
  modelsBucket.grantRead(publishModel, "models/*");
  modelsBucket.grantPut(publishModel, "models/publish/*");
  modelsBucket.grantPut(publishModel, MODEL_RECORD_KEY);
  hotkey.grantRead(publishModel);
  hfToken.grantRead(publishModel);
  publishModel.addEventSource(new SqsEventSource(publishQueue, { batchSize: 1, reportBatchItemFailures: true }));

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
    "A model publish failed 3 times and is in the dead-letter queue: see the PublishModel logs, fix, then redrive.",
    publishDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" }),
  );
  alarm(
    "DecayCheckErrorsAlarm",
    "The daily decay check failed: decay alerts and the retrain trigger are not being evaluated.",
    decayCheck.metricErrors({ period: Duration.hours(1), statistic: "Sum" }),
  );

  suppressFunctionFindings([decayCheck, publishModel]);

  stack.addOutputs({
    PublishQueueUrl: publishQueue.queueUrl,
    RetrainQueueUrl: retrainQueue.queueUrl,
    HuggingFaceTokenSecret: props.hfTokenSecretName,
  });
  return { decayCheck, publishModel, publishQueue, publishDlq, retrainQueue, retrainDlq };
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
            "Manager appends to secret ARNs, and X-Ray trace writes, which have no resource-level permissions.",
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
