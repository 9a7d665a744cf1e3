// The pipeline's schedules and watchers, built into the Pipeline stack: the daily capture export (EventBridge schedule
// → functions/capture-export.ts: captures/ → a new dataset version → datasets/latest/manifest.json → a labelling batch
// mined by the serving bundle), the daily drift
// check (schedule → functions/drift-check.ts → the retrain queue) and the automatic rollback (the axon's answer-rate
// and error alarms → EventBridge "CloudWatch Alarm State Change" → functions/rollback-on-alarm.ts).
// Failed deliveries of either land in a dead-letter queue of this stack (one in the Lifecycle stack would need a
// queue policy naming these rules, a dependency cycle between the two stacks).
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { NagSuppressions } from "cdk-nag";
import { Function as SstFunction, type Stack } from "sst/constructs";

/** Daily at 00:15 UTC: the previous day's captures join the dataset before the decay (01:00) and drift checks. */
export const CAPTURE_EXPORT_SCHEDULE = { minute: "15", hour: "0" } as const;
/** Daily at 02:00 UTC: after the decay check (01:00), over the day of prediction records that ended then. */
export const DRIFT_CHECK_SCHEDULE = { minute: "0", hour: "2" } as const;
/** An alarm this long after a promotion is blamed on it (ROADWORK_ROLLBACK_WINDOW_MINUTES overrides). */
export const DEFAULT_ROLLBACK_WINDOW_MINUTES = 120;

/** The axon alarms whose ALARM after a promotion rolls it back (names as stacks/Alarms.ts gives them). */
export const rollbackAlarmNames = (stage: string) => [
  `roadwork-${stage}-no-successful-answers`,
  `roadwork-${stage}-error-rate`,
];

export interface PipelineWatchersProps {
  stage: string;
  logRetentionDays: logs.RetentionDays;
  models: s3.IBucket;
  datasets: s3.IBucket;
  /** Where the axon's captures and the dataset store live in the datasets bucket. */
  capturesPrefix: string;
  datasetPrefix: string;
  predictions: s3.IBucket;
  predictionsPrefix: string;
  storePrefix: string;
  pointerKey: string;
  modelRecordKey: string;
  retrainQueue: sqs.IQueue;
  alertTopic: sns.ITopic;
  rollbackWindowMinutes: number;
  /** Cases in the daily labelling batch mined from new captures (0: no mining). */
  miningBudget: number;
}

export function pipelineWatchers(stack: Stack, props: PipelineWatchersProps) {
  const { models } = props;
  const powertools = (service: string) => ({
    STAGE: props.stage,
    POWERTOOLS_SERVICE_NAME: service,
    POWERTOOLS_METRICS_NAMESPACE: "RoadworkMiner",
    POWERTOOLS_LOG_LEVEL: "INFO",
  });
  const fn = (
    id: string,
    handler: string,
    environment: Record<string, string>,
    timeout: number,
    memorySize = 512,
    native: string[] = [],
  ) =>
    new SstFunction(stack, id, {
      // Native modules are installed for Lambda at deploy; in-repo synthesis (NODE_ENV=test) is offline.
      ...(native.length
        ? { nodejs: process.env.NODE_ENV === "test" ? { esbuild: { external: native } } : { install: native } }
        : {}),
      handler,
      runtime: "nodejs22.x",
      architecture: "arm_64",
      memorySize,
      timeout,
      tracing: "active",
      logGroup: new logs.LogGroup(stack, `${id}Logs`, {
        retention: props.logRetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      environment,
    });
  const deadLetters = new sqs.Queue(stack, "WatcherDeadLetters", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const target = (f: SstFunction, maxEventAge: Duration) =>
    new targets.LambdaFunction(f, { retryAttempts: 2, maxEventAge, deadLetterQueue: deadLetters });

  // ---- Capture export ---------------------------------------------------------------------------------------------
  const captureExport = fn(
    "CaptureExport",
    "functions/capture-export.handler",
    {
      ...powertools("capture-export"),
      DATASETS_BUCKET: props.datasets.bucketName,
      DATASET_PREFIX: props.datasetPrefix,
      MODELS_BUCKET: models.bucketName,
      STORE_PREFIX: props.storePrefix,
      POINTER_KEY: props.pointerKey,
      MINING_BUDGET: String(props.miningBudget),
      ALERT_TOPIC_ARN: props.alertTopic.topicArn,
    },
    900,
    3008,
    // Mining scores and embeds the captures with the serving bundle.
    ["sharp", "onnxruntime-node"],
  );
  props.datasets.grantRead(captureExport, `${props.capturesPrefix}*`);
  props.datasets.grantReadWrite(captureExport, `${props.datasetPrefix}*`);
  models.grantReadWrite(captureExport, `${props.storePrefix}datasets/latest/*`);
  // The pointer and the serving bundle it names.
  models.grantRead(captureExport, "models/*");
  props.alertTopic.grantPublish(captureExport);
  new events.Rule(stack, "DailyCaptureExport", {
    description: "Daily: captured challenges join the dataset; datasets/latest follows the newest version",
    schedule: events.Schedule.cron(CAPTURE_EXPORT_SCHEDULE),
    targets: [target(captureExport, Duration.hours(6))],
  });

  // ---- Drift -----------------------------------------------------------------------------------------------------
  const drift = fn(
    "DriftCheck",
    "functions/drift-check.handler",
    {
      ...powertools("drift-check"),
      MODELS_BUCKET: models.bucketName,
      STORE_PREFIX: props.storePrefix,
      POINTER_KEY: props.pointerKey,
      MODEL_RECORD_KEY: props.modelRecordKey,
      PREDICTIONS_BUCKET: props.predictions.bucketName,
      PREDICTIONS_PREFIX: props.predictionsPrefix,
      RETRAIN_QUEUE_URL: props.retrainQueue.queueUrl,
    },
    300,
    1024,
  );
  models.grantRead(drift, props.pointerKey);
  models.grantRead(drift, props.modelRecordKey);
  models.grantRead(drift, `${props.storePrefix}runs/*/evaluation.json`);
  models.grantReadWrite(drift, `${props.storePrefix}drift/*`);
  props.predictions.grantRead(drift, `${props.predictionsPrefix}*`);
  props.retrainQueue.grantSendMessages(drift);
  new events.Rule(stack, "DailyDriftCheck", {
    description: "Daily drift check: live score distribution vs the promoted model's evaluation set",
    schedule: events.Schedule.cron(DRIFT_CHECK_SCHEDULE),
    targets: [target(drift, Duration.hours(6))],
  });

  // ---- Automatic rollback ----------------------------------------------------------------------------------------
  const rollback = fn(
    "RollbackOnAlarm",
    "functions/rollback-on-alarm.handler",
    {
      ...powertools("rollback-on-alarm"),
      MODELS_BUCKET: models.bucketName,
      STORE_PREFIX: props.storePrefix,
      POINTER_KEY: props.pointerKey,
      ALERT_TOPIC_ARN: props.alertTopic.topicArn,
      ROLLBACK_WINDOW_MINUTES: String(props.rollbackWindowMinutes),
    },
    60,
    256,
  );
  models.grantRead(rollback, props.pointerKey);
  // The same writes as `roadwork model rollback`: the pointer (conditional PUT) and its human-readable copy.
  models.grantPut(rollback, props.pointerKey);
  models.grantPut(rollback, "models/previous.json");
  models.grantReadWrite(rollback, `${props.storePrefix}rollbacks/*`);
  props.alertTopic.grantPublish(rollback);
  new events.Rule(stack, "RollbackOnAxonAlarm", {
    description: "The axon's answer-rate or error alarm fired: roll back a promotion made within the window",
    eventPattern: {
      source: ["aws.cloudwatch"],
      detailType: ["CloudWatch Alarm State Change"],
      detail: { alarmName: rollbackAlarmNames(props.stage), state: { value: ["ALARM"] } },
    },
    targets: [target(rollback, Duration.hours(1))],
  });

  const alarm = new cloudwatch.Alarm(stack, "WatcherDeadLettersAlarm", {
    alarmName: `roadwork-${props.stage}-watcher-dead-letters`,
    alarmDescription:
      "A capture export, drift check or automatic rollback could not be delivered after retries: see WatcherDeadLetters and the functions' logs.",
    metric: deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm.addAlarmAction(new actions.SnsAction(props.alertTopic));
  NagSuppressions.addResourceSuppressions(deadLetters, [
    {
      id: "AwsSolutions-SQS3",
      reason: "This queue is itself a dead-letter queue; its depth alarm notifies the operator.",
    },
  ]);
  return { captureExport, drift, rollback, deadLetters };
}
