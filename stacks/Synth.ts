// Synthetic images on request. A queue (with DLQ) feeds the generation Lambda (Bedrock Stability / Nova Canvas),
// a weekly EventBridge rule asks for a batch aimed at the current hard cases, and the budget, DLQ and rejection rate
// have alarms. The Cosmos NIM (NVIDIA's own serving container) runs as an ECS service on a ≥ 48 GB GPU spot
// instance that exists only while its queue has work: the service scales 0 ↔ 1 on queue depth and the capacity
// provider brings the instance up and down with it. Its consumer is the same Lambda code inside the VPC.
import { Stack as CdkStack, Duration, RemovalPolicy } from "aws-cdk-lib";
import * as autoscaling from "aws-cdk-lib/aws-autoscaling";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as servicediscovery from "aws-cdk-lib/aws-servicediscovery";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { NagSuppressions } from "cdk-nag";
import { Function as SstFunction, type StackContext, use } from "sst/constructs";
import { z } from "zod";
import { Alarms } from "./Alarms.ts";
import { stageConfigFor } from "./config.ts";
import { gpuCapacity } from "./gpu-capacity.ts";
import { Miner } from "./Miner.ts";
import { suppressSstStackHandler } from "./nag.ts";
import { Storage } from "./Storage.ts";

export const SYNTH_TIMEOUT = Duration.minutes(15);
/** Mondays 03:00 UTC, after the weekend's captures were mined. */
export const WEEKLY_SYNTH_SCHEDULE = { minute: "0", hour: "3", weekDay: "MON" } as const;
export const COSMOS_PORT = 8000;

export const SynthConfigSchema = z.object({
  /** Default generator of the Lambda; the weekly batch uses it. */
  generator: z.string().regex(/^(bedrock:[a-z0-9.:-]+|cosmos|procedural)$/),
  /** Bedrock image models the Lambda may invoke (IAM allows exactly these). */
  models: z.array(z.string().regex(/^[a-z0-9.-]+(:\d+)?$/)).min(1),
  teacherModel: z.string().optional(),
  weeklyCount: z.number().int().min(0).max(200),
  dayBudgetUsd: z.number().min(0),
  monthBudgetUsd: z.number().min(0),
  /** Alarm when more than this share of a day's judged images is rejected. */
  maxRejectionPercent: z.number().min(0).max(100),
  cosmos: z.object({
    image: z.string().min(1),
    instanceType: z.string(),
    ngcSecretName: z.string().min(1),
  }),
});
export type SynthConfig = z.infer<typeof SynthConfigSchema>;

/** Per-stage generation settings; ROADWORK_SYNTH_* variables override them at deploy time. */
export function synthConfig(stage: string, env: Record<string, string | undefined> = process.env): SynthConfig {
  const mainnet = stage === "mainnet";
  const models = env.ROADWORK_SYNTH_MODELS?.split(",").map((m) => m.trim()) ?? [
    "stability.sd3-5-large-v1:0",
    "stability.stable-image-core-v1:1",
  ];
  return SynthConfigSchema.parse({
    generator: env.ROADWORK_SYNTH_GENERATOR ?? "bedrock:stability.sd3-5-large-v1:0",
    models,
    ...(env.ROADWORK_SYNTH_TEACHER_MODEL ? { teacherModel: env.ROADWORK_SYNTH_TEACHER_MODEL } : {}),
    weeklyCount: Number(env.ROADWORK_SYNTH_WEEKLY_COUNT ?? (mainnet ? 200 : 40)),
    dayBudgetUsd: Number(env.ROADWORK_SYNTH_DAY_BUDGET_USD ?? (mainnet ? 20 : 5)),
    monthBudgetUsd: Number(env.ROADWORK_SYNTH_MONTH_BUDGET_USD ?? (mainnet ? 100 : 20)),
    maxRejectionPercent: 50,
    cosmos: {
      image: env.ROADWORK_SYNTH_COSMOS_IMAGE ?? "nvcr.io/nim/nvidia/cosmos3:2.1.0",
      instanceType: env.ROADWORK_SYNTH_COSMOS_INSTANCE ?? "g6e.xlarge",
      ngcSecretName: `roadwork/${stage}/ngc-api-key`,
    },
  });
}

export function Synth({ stack, app }: StackContext) {
  const config = stageConfigFor(app);
  const synth = synthConfig(config.stage);
  const { datasets } = use(Storage);
  const { topic } = use(Alarms);
  const { vpc } = use(Miner);
  suppressSstStackHandler(stack);
  const region = CdkStack.of(stack).region;
  const secureQueue = { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true } satisfies sqs.QueueProps;
  const logGroup = (id: string) =>
    new logs.LogGroup(stack, `${id}Logs`, {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });

  const deadLetters = new sqs.Queue(stack, "SynthDeadLetters", { ...secureQueue, retentionPeriod: Duration.days(14) });
  const requests = new sqs.Queue(stack, "SynthRequests", {
    ...secureQueue,
    visibilityTimeout: Duration.minutes(SYNTH_TIMEOUT.toMinutes() * 6),
    retentionPeriod: Duration.days(4),
    deadLetterQueue: { queue: deadLetters, maxReceiveCount: 3 },
  });
  const cosmosRequests = new sqs.Queue(stack, "CosmosRequests", {
    ...secureQueue,
    visibilityTimeout: Duration.minutes(SYNTH_TIMEOUT.toMinutes() * 6),
    retentionPeriod: Duration.days(4),
    deadLetterQueue: { queue: deadLetters, maxReceiveCount: 3 },
  });
  NagSuppressions.addResourceSuppressions(deadLetters, [
    {
      id: "AwsSolutions-SQS3",
      reason: "This queue is itself a dead-letter queue; its depth alarm notifies the operator.",
    },
  ]);

  const modelArns = [...synth.models, ...(synth.teacherModel ? [synth.teacherModel] : [])].map(
    (m) => `arn:aws:bedrock:${region}::foundation-model/${m}`,
  );
  const environment = {
    STAGE: config.stage,
    POWERTOOLS_SERVICE_NAME: "synth-generate",
    POWERTOOLS_METRICS_NAMESPACE: "RoadworkMiner",
    POWERTOOLS_LOG_LEVEL: "INFO",
    DATASETS_BUCKET: datasets.bucketName,
    SYNTH_DAY_BUDGET_USD: String(synth.dayBudgetUsd),
    SYNTH_MONTH_BUDGET_USD: String(synth.monthBudgetUsd),
    SYNTH_CONCURRENCY: "2",
  };
  const functionProps = {
    handler: "functions/synth-generate.handler",
    runtime: "nodejs22.x" as const,
    architecture: "arm_64" as const,
    memorySize: 2048,
    timeout: SYNTH_TIMEOUT.toSeconds(),
    tracing: "active" as const,
    // One batch at a time per function: bounded Bedrock concurrency, one writer of the dataset's latest pointer.
    reservedConcurrentExecutions: 1,
    // sharp is native: SST installs it for linux-arm64 at deploy (npm install in the bundle). In-repo synthesis
    // (stack tests, `npm run cost`, NODE_ENV=test) is offline, so there it is only kept out of the bundle.
    nodejs: process.env.NODE_ENV === "test" ? { esbuild: { external: ["sharp"] } } : { install: ["sharp"] },
  };
  const grantData = (fn: SstFunction) => {
    datasets.grantReadWrite(fn, "dataset/*");
    datasets.grantReadWrite(fn, "synth/*");
    datasets.grantRead(fn, "mining/hard-cases.json");
  };

  const generate = new SstFunction(stack, "SynthGenerate", {
    ...functionProps,
    logGroup: logGroup("SynthGenerate"),
    environment: {
      ...environment,
      SYNTH_GENERATOR: synth.generator,
      SYNTH_ALLOWED_GENERATORS: synth.models.map((m) => `bedrock:${m}`).join(","),
      ALERT_TOPIC_ARN: topic.topicArn,
      ...(synth.teacherModel ? { SYNTH_TEACHER_MODEL: synth.teacherModel } : {}),
    },
  });
  // Only the configured models: InvokeModel to generate (and, for the teacher, Converse, which uses InvokeModel),
  // GetFoundationModel to read their lifecycle first.
  generate.addToRolePolicy(new iam.PolicyStatement({ actions: ["bedrock:InvokeModel"], resources: modelArns }));
  generate.addToRolePolicy(new iam.PolicyStatement({ actions: ["bedrock:GetFoundationModel"], resources: modelArns }));
  grantData(generate);
  topic.grantPublish(generate);
  generate.addEventSource(new SqsEventSource(requests, { batchSize: 1, reportBatchItemFailures: true }));

  new events.Rule(stack, "WeeklySynthBatch", {
    description: "Weekly synthetic batch aimed at the current hard cases",
    schedule: events.Schedule.cron(WEEKLY_SYNTH_SCHEDULE),
    targets: [
      new targets.SqsQueue(requests, {
        message: events.RuleTargetInput.fromObject({
          batchId: events.EventField.fromPath("$.id"),
          count: synth.weeklyCount,
          target: "hard-cases",
        }),
      }),
    ],
  });

  // ---- Cosmos NIM on an on-demand GPU task ------------------------------------------------------------------
  const cosmosHosts = gpuCapacity(stack, {
    vpc,
    alertTopic: topic,
    name: "Cosmos",
    hostDescription: "Cosmos NIM host: port 8000 from the Cosmos consumer Lambda only",
    // The NIM image and its model weights (tens of GB) are pulled at start.
    rootVolumeGiB: 200,
    pools: [
      { groupId: "CosmosHosts", providerId: "CosmosCapacity", instanceTypes: [synth.cosmos.instanceType], spot: true },
    ],
  });
  const { cluster, hostSecurityGroup: hostSg } = cosmosHosts;
  const capacity = cosmosHosts.providers[0] as ecs.AsgCapacityProvider;
  const consumerSg = new ec2.SecurityGroup(stack, "CosmosConsumerSg", {
    vpc,
    description: "Cosmos consumer Lambda",
    allowAllOutbound: true,
  });
  hostSg.addIngressRule(consumerSg, ec2.Port.tcp(COSMOS_PORT), "Cosmos consumer to the NIM");

  const ngcKey = secretsmanager.Secret.fromSecretNameV2(stack, "NgcApiKey", synth.cosmos.ngcSecretName);
  const taskDefinition = new ecs.Ec2TaskDefinition(stack, "CosmosTask", { networkMode: ecs.NetworkMode.HOST });
  taskDefinition.addContainer("cosmos-nim", {
    image: ecs.ContainerImage.fromRegistry(synth.cosmos.image),
    memoryReservationMiB: 24_000,
    gpuCount: 1,
    // The NIM downloads its weights from NGC with this key (NVIDIA Open Model License; see docs/synthetic.md).
    secrets: { NGC_API_KEY: ecs.Secret.fromSecretsManager(ngcKey) },
    environment: { NIM_HTTP_API_PORT: String(COSMOS_PORT) },
    portMappings: [{ containerPort: COSMOS_PORT, hostPort: COSMOS_PORT }],
    healthCheck: {
      command: ["CMD-SHELL", `curl -sf http://localhost:${COSMOS_PORT}/v1/health/ready || exit 1`],
      startPeriod: Duration.minutes(5),
      interval: Duration.seconds(30),
    },
    logging: ecs.LogDrivers.awsLogs({ streamPrefix: "cosmos", logGroup: logGroup("Cosmos") }),
  });
  const namespace = new servicediscovery.PrivateDnsNamespace(stack, "SynthNamespace", {
    vpc,
    name: `synth.${config.stage}.roadwork.internal`,
  });
  const service = new ecs.Ec2Service(stack, "CosmosService", {
    cluster,
    taskDefinition,
    desiredCount: 0,
    minHealthyPercent: 0,
    maxHealthyPercent: 100,
    capacityProviderStrategies: [{ capacityProvider: capacity.capacityProviderName, weight: 1 }],
    cloudMapOptions: {
      cloudMapNamespace: namespace,
      name: "cosmos",
      dnsRecordType: servicediscovery.DnsRecordType.SRV,
      containerPort: COSMOS_PORT,
    },
  });
  // Scale to zero: one task while the Cosmos queue holds messages, none after 15 empty minutes.
  const scaling = service.autoScaleTaskCount({ minCapacity: 0, maxCapacity: 1 });
  scaling.scaleOnMetric("CosmosQueueDepth", {
    metric: cosmosRequests
      .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: "Maximum" })
      .with({}),
    scalingSteps: [
      { upper: 0, change: -1 },
      { lower: 1, change: +1 },
    ],
    adjustmentType: autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
    evaluationPeriods: 15,
    cooldown: Duration.minutes(5),
  });

  const cosmosConsumer = new SstFunction(stack, "SynthGenerateCosmos", {
    ...functionProps,
    logGroup: logGroup("SynthGenerateCosmos"),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
    allowPublicSubnet: true,
    securityGroups: [consumerSg],
    environment: {
      ...environment,
      SYNTH_GENERATOR: "cosmos",
      SYNTH_ALLOWED_GENERATORS: "cosmos",
      // Resolved per batch through the namespace's SRV record (host networking: the instance's address and port).
      COSMOS_SRV: `cosmos.synth.${config.stage}.roadwork.internal`,
    },
  });
  grantData(cosmosConsumer);
  cosmosConsumer.addEventSource(new SqsEventSource(cosmosRequests, { batchSize: 1, reportBatchItemFailures: true }));
  // No NAT: the VPC reaches S3 through a gateway endpoint (free); the consumer alerts through its metrics' alarms.
  vpc.addGatewayEndpoint("SynthS3Endpoint", { service: ec2.GatewayVpcEndpointAwsService.S3 });

  // ---- Alarms -------------------------------------------------------------------------------------------------
  const notify = new actions.SnsAction(topic);
  const metric = (name: string, statistic: string, period = Duration.hours(1)) =>
    new cloudwatch.Metric({
      namespace: "RoadworkMiner",
      metricName: name,
      statistic,
      period,
      dimensionsMap: { service: "synth-generate", Stage: config.stage },
    });
  const alarm = (id: string, description: string, m: cloudwatch.IMetric, threshold: number) => {
    const a = new cloudwatch.Alarm(stack, id, {
      alarmName: `roadwork-${config.stage}-${id.replace(/Alarm$/, "").replace(/[A-Z]/g, (c, i) => (i ? "-" : "") + c.toLowerCase())}`,
      alarmDescription: description,
      metric: m,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    a.addAlarmAction(notify);
    return a;
  };
  alarm(
    "SynthBudgetAlarm",
    "Synthetic generation stopped at its budget cap (see the batch report in synth/batches/).",
    metric("SynthBudgetStops", "Sum"),
    1,
  );
  alarm(
    "SynthDeadLettersAlarm",
    "A synthetic batch failed 3 times (access denied, quota, bad message): see the SynthGenerate logs, fix, then redrive.",
    deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" }),
    1,
  );
  alarm(
    "SynthRejectionRateAlarm",
    `More than ${synth.maxRejectionPercent}% of synthetic images failed the quality gates: check the model, prompts and thresholds.`,
    metric("SynthRejectionRate", "Average", Duration.days(1)),
    synth.maxRejectionPercent,
  );

  for (const fn of [generate, cosmosConsumer]) {
    NagSuppressions.addResourceSuppressions(
      fn,
      [
        {
          id: "AwsSolutions-IAM4",
          appliesTo: [
            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
          ],
          reason: "The basic/VPC execution policies only let the function write its logs and manage its ENIs.",
        },
        {
          id: "AwsSolutions-IAM5",
          reason:
            "Wildcards are scoped: object patterns under dataset/ and synth/ in the datasets bucket, and X-Ray trace writes, which have no resource-level permissions.",
        },
        { id: "AwsSolutions-L1", reason: "nodejs22.x is the runtime this project standardises on." },
      ],
      true,
    );
  }
  NagSuppressions.addResourceSuppressions(
    taskDefinition,
    [
      {
        id: "AwsSolutions-ECS2",
        reason: "Only non-secret settings are plain environment variables; the NGC key is an ECS secret.",
      },
      {
        id: "AwsSolutions-IAM5",
        reason: "The execution role's wildcard is the '-??????' suffix Secrets Manager appends to secret ARNs.",
      },
    ],
    true,
  );

  stack.addOutputs({
    SynthQueueUrl: requests.queueUrl,
    CosmosQueueUrl: cosmosRequests.queueUrl,
    NgcSecret: synth.cosmos.ngcSecretName,
  });
  return { requests, cosmosRequests, deadLetters, generate, cosmosConsumer, service, synth };
}
