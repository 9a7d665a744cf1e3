// Who hears about trouble: one SNS topic to the operator's email, alarms on what the axon publishes (is it answering,
// how often it fails, how slow its tail is, how stale its view of the chain is), the GPU host's status checks,
// a monthly AWS Budget and a dashboard. Everything keys on names from stacks/config.ts, so this stack needs no
// construct from the miner stack and can come first (the miner sends its Auto Scaling notifications here).
import { Duration } from "aws-cdk-lib";
import { CfnBudget } from "aws-cdk-lib/aws-budgets";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as iam from "aws-cdk-lib/aws-iam";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import { NagSuppressions } from "cdk-nag";
import type { StackContext } from "sst/constructs";
import { MINER_METRICS, resourceNames, STAGE_TAG_KEY, type StageConfig, stageConfigFor } from "./config.ts";
import { suppressSstStackHandler } from "./nag.ts";

/** Budget notification thresholds, percent of the stage's monthly budget, on ACTUAL spend. */
export const BUDGET_THRESHOLDS_PERCENT = [75, 90, 110] as const;
/** AWS's forecast of the month's spend for the stage crossing this share of its budget notifies early. */
export const BUDGET_FORECAST_PERCENT = 100;

/** No successful answer for this long means validators are scoring us zero. */
export const ANSWERS_OK_WINDOW = Duration.minutes(30);
/** Validators time out at 9 s; alarm well before a slow tail turns into zeros. */
export const LATENCY_P99_LIMIT_MS = 6_000;
export const ERROR_RATE_LIMIT = 0.05;
export const METAGRAPH_AGE_LIMIT_SECONDS = 30 * 60;

function minerMetric(
  config: StageConfig,
  metricName: string,
  statistic: string,
  period: Duration,
  dimensions: Record<string, string> = {},
) {
  return new cloudwatch.Metric({
    namespace: MINER_METRICS.namespace,
    metricName,
    dimensionsMap: { [MINER_METRICS.dimension]: config.stage, ...dimensions },
    statistic,
    period,
  });
}

export function Alarms({ stack, app }: StackContext) {
  const config = stageConfigFor(app);
  const names = resourceNames(config);

  const topic = new sns.Topic(stack, "OperatorAlerts", { displayName: `Roadwork miner (${config.stage})` });
  topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
  // SSL-only publishing, matching what CloudWatch, Auto Scaling and Budgets use.
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: "DenyInsecureTransport",
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ["sns:Publish"],
      resources: [topic.topicArn],
      conditions: { Bool: { "aws:SecureTransport": "false" } },
    }),
  );
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: "AllowBudgetsToNotify",
      principals: [new iam.ServicePrincipal("budgets.amazonaws.com")],
      actions: ["sns:Publish"],
      resources: [topic.topicArn],
      conditions: { StringEquals: { "aws:SourceAccount": stack.account } },
    }),
  );
  NagSuppressions.addResourceSuppressions(topic, [
    {
      id: "AwsSolutions-SNS2",
      reason:
        "Notifications carry alarm states and budget figures, no secrets. CloudWatch alarms and AWS Budgets cannot " +
        "publish to a topic under the AWS-managed SNS key, and a customer-managed key would add cost and a key " +
        "policy for two service principals without protecting anything sensitive.",
    },
  ]);

  const alarmAction = new actions.SnsAction(topic);
  const wire = (alarm: cloudwatch.Alarm) => {
    alarm.addAlarmAction(alarmAction);
    alarm.addOkAction(alarmAction);
    return alarm;
  };

  const answersOk = minerMetric(config, MINER_METRICS.answersOk, "Sum", ANSWERS_OK_WINDOW);
  const errorRate = minerMetric(config, MINER_METRICS.errorRate, "Average", Duration.minutes(5));
  const latencyP99 = minerMetric(config, MINER_METRICS.latencyP99, "Maximum", Duration.minutes(5));
  const metagraphAge = minerMetric(config, MINER_METRICS.metagraphAgeSeconds, "Maximum", Duration.minutes(5));
  const statusCheck = new cloudwatch.Metric({
    namespace: "AWS/EC2",
    metricName: "StatusCheckFailed",
    dimensionsMap: { AutoScalingGroupName: names.autoScalingGroup },
    statistic: "Maximum",
    period: Duration.minutes(5),
  });

  const validatorChallenges = minerMetric(
    config,
    MINER_METRICS.validatorChallenges,
    "Sum",
    Duration.hours(config.validatorSilenceHours),
  );
  const subnetBurning = minerMetric(config, MINER_METRICS.subnetBurning, "Maximum", Duration.hours(1));
  const gpuOverdue = minerMetric(config, MINER_METRICS.gpuTasksOverdue, "Maximum", Duration.minutes(15));
  const billing = new cloudwatch.Metric({
    namespace: "AWS/Billing",
    metricName: "EstimatedCharges",
    dimensionsMap: { Currency: "USD" },
    statistic: "Maximum",
    period: Duration.hours(6),
  });

  const alarms = {
    // Missing data is not an outage by itself (testnet validators go quiet for hours); the silence alarm below
    // watches for challenges that stop coming.
    noAnswers: wire(
      new cloudwatch.Alarm(stack, "NoSuccessfulAnswers", {
        alarmName: `roadwork-${config.stage}-no-successful-answers`,
        alarmDescription: `No successful validator answer in ${ANSWERS_OK_WINDOW.toMinutes()} minutes: the miner earns nothing.`,
        metric: answersOk,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        threshold: 1,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ),
    // Subnet pulse (spec §4.7): permitted validators stopped challenging this axon (no data: nobody challenged).
    validatorSilence: wire(
      new cloudwatch.Alarm(stack, "ValidatorSilence", {
        alarmName: `roadwork-${config.stage}-validator-silence`,
        alarmDescription:
          `No permitted validator challenged the axon in ${config.validatorSilenceHours} h: the subnet may be halted ` +
          "or the axon unreachable. Check 'roadwork status' (pulse line) and the axon log.",
        metric: validatorChallenges,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        threshold: 1,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    ),
    subnetBurning: wire(
      new cloudwatch.Alarm(stack, "SubnetBurning", {
        alarmName: `roadwork-${config.stage}-subnet-burning`,
        alarmDescription:
          "Validators give their weight to the subnet owner's uid: miners' emission is burned and this miner earns " +
          "nothing. Consider pausing the GPU host (ROADWORK_PAUSE_AFTER_DAYS, docs/deploy.md).",
        metric: subnetBurning,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        threshold: 1,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ),
    gpuRunaway: wire(
      new cloudwatch.Alarm(stack, "GpuTaskRunaway", {
        alarmName: `roadwork-${config.stage}-gpu-task-runaway`,
        alarmDescription:
          `A GPU task runs past its expected time (trainer ${config.gpuTaskMaxHours.trainer} h, generator ` +
          `${config.gpuTaskMaxHours.generator} h) and bills by the hour: stop it in the ECS console or 'aws ecs stop-task'.`,
        metric: gpuOverdue,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        threshold: 1,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ),
    errorRate: wire(
      new cloudwatch.Alarm(stack, "HighErrorRate", {
        alarmName: `roadwork-${config.stage}-error-rate`,
        alarmDescription: `More than ${ERROR_RATE_LIMIT * 100}% of validator requests failed for 15 minutes.`,
        metric: errorRate,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        threshold: ERROR_RATE_LIMIT,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ),
    latency: wire(
      new cloudwatch.Alarm(stack, "SlowAnswers", {
        alarmName: `roadwork-${config.stage}-latency-p99`,
        alarmDescription: `p99 answer latency above ${LATENCY_P99_LIMIT_MS} ms for 10 minutes (validators give up at 9 s).`,
        metric: latencyP99,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        threshold: LATENCY_P99_LIMIT_MS,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ),
    metagraphAge: wire(
      new cloudwatch.Alarm(stack, "StaleMetagraph", {
        alarmName: `roadwork-${config.stage}-metagraph-age`,
        alarmDescription:
          "The axon's metagraph is older than 30 minutes: blacklist and priority decide on stale stake.",
        metric: metagraphAge,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        threshold: METAGRAPH_AGE_LIMIT_SECONDS,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    ),
    instanceStatus: wire(
      new cloudwatch.Alarm(stack, "InstanceStatusCheckFailed", {
        alarmName: `roadwork-${config.stage}-instance-status`,
        alarmDescription: "The GPU host failed its EC2 status checks.",
        metric: statusCheck,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        threshold: 1,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ),
  };

  // Several hotkeys on the host: one of them can stop answering while the others (and so the stage's total) still do
  // — its registration was pruned, its serve_axon failed. Each hotkey's own answers get the no-answers alarm too.
  const perHotkey = config.axonPorts.length > 1;
  const hotkeyAnswers = perHotkey
    ? config.axonPorts.map((port) => {
        const metric = minerMetric(config, MINER_METRICS.answersOk, "Sum", ANSWERS_OK_WINDOW, {
          [MINER_METRICS.axonPortDimension]: String(port),
        });
        const alarm = wire(
          new cloudwatch.Alarm(stack, `NoSuccessfulAnswersPort${port}`, {
            alarmName: `roadwork-${config.stage}-no-successful-answers-port-${port}`,
            alarmDescription:
              `The hotkey on port ${port} gave no successful answer in ${ANSWERS_OK_WINDOW.toMinutes()} minutes while ` +
              "the host runs: is it still registered, and announced on this port? ('roadwork status', the axon log's " +
              "serve_axon lines)",
            metric,
            comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            threshold: 1,
            evaluationPeriods: 1,
            // The axon sends zeros while it runs; no data is the whole host down, which the stage alarms cover.
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
        );
        return { port, metric, alarm };
      })
    : [];

  // Per stage: the budget counts only resources tagged roadwork:stage=<stage> (every resource of the app carries
  // it). The tag must be activated once as a cost allocation tag (docs/deploy.md); until then this budget reads $0,
  // which is why the account-wide billing alarm below exists beside it.
  const subscribers = [
    { subscriptionType: "EMAIL", address: config.alarmEmail },
    { subscriptionType: "SNS", address: topic.topicArn },
  ];
  new CfnBudget(stack, "MonthlyBudget", {
    budget: {
      budgetName: names.budget,
      budgetType: "COST",
      timeUnit: "MONTHLY",
      budgetLimit: { amount: config.monthlyBudgetUsd, unit: "USD" },
      costFilters: { TagKeyValue: [`user:${STAGE_TAG_KEY}$${config.stage}`] },
    },
    notificationsWithSubscribers: [
      ...BUDGET_THRESHOLDS_PERCENT.map((threshold) => ({
        notification: {
          notificationType: "ACTUAL",
          comparisonOperator: "GREATER_THAN",
          threshold,
          thresholdType: "PERCENTAGE",
        },
        subscribers,
      })),
      {
        notification: {
          notificationType: "FORECASTED",
          comparisonOperator: "GREATER_THAN",
          threshold: BUDGET_FORECAST_PERCENT,
          thresholdType: "PERCENTAGE",
        },
        subscribers,
      },
    ],
  });

  // The account's estimated charges: published only in us-east-1, and only once billing alerts are turned on
  // (Billing console > Billing preferences > Receive CloudWatch billing alerts).
  if (config.region === "us-east-1") {
    wire(
      new cloudwatch.Alarm(stack, "EstimatedCharges", {
        alarmName: `roadwork-${config.stage}-estimated-charges`,
        alarmDescription:
          `The whole account's estimated charges this month passed $${config.billingAlarmUsd} ` +
          "(AWS/Billing EstimatedCharges; ROADWORK_BILLING_ALARM_USD).",
        metric: billing,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        threshold: config.billingAlarmUsd,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  new cloudwatch.Dashboard(stack, "Dashboard", {
    dashboardName: names.dashboard,
    widgets: [
      [
        new cloudwatch.GraphWidget({ title: "Successful answers (30 min)", left: [answersOk], width: 12 }),
        new cloudwatch.GraphWidget({ title: "Error rate", left: [errorRate], width: 12 }),
      ],
      [
        new cloudwatch.GraphWidget({
          title: "Latency p99 (ms)",
          left: [latencyP99],
          leftAnnotations: [{ value: 9_000, label: "validator timeout" }],
          width: 12,
        }),
        new cloudwatch.GraphWidget({ title: "Metagraph age (s)", left: [metagraphAge], width: 12 }),
      ],
      [
        new cloudwatch.AlarmStatusWidget({
          title: "Alarms",
          alarms: [...Object.values(alarms), ...hotkeyAnswers.map((h) => h.alarm)],
          width: 12,
        }),
        new cloudwatch.GraphWidget({ title: "Host status check failed", left: [statusCheck], width: 12 }),
      ],
      [
        new cloudwatch.GraphWidget({
          title: "Challenges from permitted validators",
          left: [validatorChallenges],
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: "Subnet pulse (1 = paying this miner / burning)",
          left: [minerMetric(config, MINER_METRICS.subnetPaying, "Maximum", Duration.hours(1)), subnetBurning],
          width: 12,
        }),
      ],
      ...(perHotkey
        ? [
            [
              new cloudwatch.GraphWidget({
                title: "Successful answers per hotkey (by port, 30 min)",
                left: hotkeyAnswers.map((h) => h.metric.with({ label: `:${h.port}` })),
                width: 24,
              }),
            ],
          ]
        : []),
    ],
  });

  suppressSstStackHandler(stack);
  stack.addOutputs({ AlertTopicArn: topic.topicArn });
  return { topic, alarms, hotkeyAlarms: hotkeyAnswers.map((h) => h.alarm) };
}
