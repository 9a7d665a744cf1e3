// Synthesizes the real SST app (sst.config.ts) for every stage and purchase/compute variant, once, and checks what
// keeps the miner reachable, private and cheap: GPU task on host networking, Elastic IP takeover, the only open port,
// private TLS-only buckets, alarms wired to the operator, budget thresholds, cdk-nag and cfn-lint clean.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { before, describe, test } from "node:test";
import { Match, Template } from "aws-cdk-lib/assertions";
import { GPU_INSTANCE_TYPES, MINER_METRICS, type StageConfig } from "./config.ts";
import { estimateStage, loadPriceTable } from "./cost/estimate.ts";
import { HOTKEY_SECRET_ENV } from "./Miner.ts";
import { type SynthesizedStack, type SynthesizedStage, synthesizeStage } from "./testing.ts";

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

const VARIANTS = {
  testnet: { stage: "testnet", env: {} },
  mainnet: { stage: "mainnet", env: {} },
  "mainnet-on-demand": {
    stage: "mainnet",
    // Also exercises the prebuilt-image and existing-address branches.
    env: {
      ROADWORK_PURCHASE_OPTION: "on-demand",
      ROADWORK_AXON_IMAGE: "roadwork-axon:v42",
      ROADWORK_EIP_ALLOCATION_ID: "eipalloc-0123456789abcdef0",
      ROADWORK_EIP_PUBLIC_IP: "203.0.113.7",
    },
  },
  // GPU on testnet by request, with the opt-in pause and NATIX registration on, serving three hotkeys.
  "testnet-gpu": {
    stage: "testnet",
    env: {
      ROADWORK_COMPUTE_PROFILE: "gpu",
      ROADWORK_PAUSE_AFTER_DAYS: "7",
      ROADWORK_NATIX_REGISTRATION: "on",
      ROADWORK_AXON_PORTS: "8091,8092,8095",
    },
  },
} as const;
type Variant = keyof typeof VARIANTS;

const synthesized = new Map<Variant, SynthesizedStage>();
/** The stage configuration a variant was synthesized from. */
function stageConfigOf(variant: Variant): StageConfig {
  const config = synthesized.get(variant)?.config;
  assert.ok(config, `${variant} was not synthesized`);
  return config;
}

function stackOf(variant: Variant, id: string): SynthesizedStack {
  const stack = synthesized.get(variant)?.stacks.get(id);
  assert.ok(stack, `${variant} has no ${id} stack`);
  return stack;
}
const templateOf = (variant: Variant, id: string) => Template.fromJSON(stackOf(variant, id).template);
const resourcesOf = (variant: Variant, id: string, type: string): Json[] =>
  Object.values(stackOf(variant, id).template.Resources as Record<string, Json>).filter((r) => r.Type === type);

/** Flattens an Fn::Base64/Fn::Join user data value into text (tokens rendered as JSON). */
function userDataText(value: Json): string {
  const joined = value["Fn::Base64"]?.["Fn::Join"];
  if (!joined) return JSON.stringify(value);
  return (joined[1] as Json[]).map((part) => (typeof part === "string" ? part : JSON.stringify(part))).join("");
}

function axonContainer(variant: Variant): Json {
  const [taskDef] = resourcesOf(variant, "Miner", "AWS::ECS::TaskDefinition");
  return taskDef.Properties.ContainerDefinitions[0];
}

before(async () => {
  for (const [variant, { stage, env }] of Object.entries(VARIANTS) as [Variant, (typeof VARIANTS)[Variant]][]) {
    synthesized.set(variant, await synthesizeStage({ stage, env, nag: true }));
  }
});

describe("stage configuration reaches the templates", () => {
  test("netuid per stage: testnet 323, mainnet 72", () => {
    for (const [variant, netuid] of [
      ["testnet", "323"],
      ["mainnet", "72"],
    ] as const) {
      const env = axonContainer(variant).Environment as { Name: string; Value: Json }[];
      assert.equal(env.find((e) => e.Name === "ROADWORK_NETUID")?.Value, netuid);
    }
  });
});

describe("Miner stack", () => {
  test("the task asks for one GPU on GPU profiles and none on the CPU profile", () => {
    for (const variant of ["testnet-gpu", "mainnet", "mainnet-on-demand"] as const) {
      assert.deepEqual(axonContainer(variant).ResourceRequirements, [{ Type: "GPU", Value: "1" }], variant);
    }
    // Testnet defaults to the CPU host.
    assert.equal(axonContainer("testnet").ResourceRequirements, undefined);
  });

  test("host networking, health check and logs with retention", () => {
    const [taskDef] = resourcesOf("mainnet", "Miner", "AWS::ECS::TaskDefinition");
    assert.equal(taskDef.Properties.NetworkMode, "host");
    assert.deepEqual(taskDef.Properties.RequiresCompatibilities, ["EC2"]);
    const container = axonContainer("mainnet");
    assert.equal(container.HealthCheck.Command[0], "CMD");
    // Alive, not answering: a stage without a model yet stays healthy (the heartbeat), so the first deploy succeeds.
    assert.match(container.HealthCheck.Command.join(" "), /statSync\("\/tmp\/roadwork-axon\.heartbeat"/);
    assert.deepEqual(container.MountPoints, [
      { ContainerPath: "/run/roadwork", ReadOnly: true, SourceVolume: "host-info" },
    ]);
    assert.deepEqual(taskDef.Properties.Volumes, [{ Host: { SourcePath: "/var/lib/roadwork" }, Name: "host-info" }]);
    assert.equal(container.LogConfiguration.LogDriver, "awslogs");
    templateOf("mainnet", "Miner").hasResourceProperties("AWS::Logs::LogGroup", {
      LogGroupName: "/roadwork/mainnet/axon",
      RetentionInDays: 30,
    });
  });

  test("challenge captures go to the datasets bucket under captures/, and the task may write only there", () => {
    const env = Object.fromEntries(
      (axonContainer("mainnet").Environment as { Name: string; Value: Json }[]).map((e) => [e.Name, e.Value]),
    );
    assert.equal(env.ROADWORK_CAPTURE_PREFIX, "captures/");
    assert.match(JSON.stringify(env.ROADWORK_CAPTURE_BUCKET), /Datasets/);
    const statements = resourcesOf("mainnet", "Miner", "AWS::IAM::Policy").flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Json[],
    );
    const capture = statements.find((st) => st.Sid === "WriteChallengeCaptures");
    assert.ok(capture, "a WriteChallengeCaptures statement");
    assert.equal(capture.Action, "s3:PutObject");
    assert.match(JSON.stringify(capture.Resource), /Datasets.*\/captures\/\*/);
  });

  test("the hotkey arrives as an ECS secret from Secrets Manager, never as a plain environment value", () => {
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      const container = axonContainer(variant);
      const secrets = container.Secrets as { Name: string; ValueFrom: Json }[];
      assert.deepEqual(
        secrets.map((s) => s.Name),
        [HOTKEY_SECRET_ENV],
      );
      assert.match(
        JSON.stringify(secrets[0]?.ValueFrom),
        /:secretsmanager:.*:secret:roadwork\/(testnet|mainnet)\/hotkey"/,
      );
      for (const { Name, Value } of container.Environment as { Name: string; Value: Json }[]) {
        assert.doesNotMatch(Name, /HOTKEY|MNEMONIC|SEED|SECRET|TOKEN|PASSWORD/i, `${variant}: ${Name}`);
        assert.doesNotMatch(JSON.stringify(Value), /mnemonic|seed|0x[0-9a-f]{64}/i, `${variant}: ${Name}`);
      }
      // The execution role may read exactly that secret.
      const policies = JSON.stringify(resourcesOf(variant, "Miner", "AWS::IAM::Policy"));
      assert.match(policies, /secretsmanager:GetSecretValue/);
    }
  });

  test("the security group opens exactly the configured ports, one per hotkey, to IPv4 and IPv6", () => {
    const expected: [Variant, number[]][] = [
      ["mainnet", [8091]],
      ["testnet-gpu", [8091, 8092, 8095]],
    ];
    for (const [variant, ports] of expected) {
      assert.deepEqual(stageConfigOf(variant).axonPorts, ports, "the ports come from the stage config");
      const groups = resourcesOf(variant, "Miner", "AWS::EC2::SecurityGroup");
      assert.equal(groups.length, 1);
      const ingress = groups[0].Properties.SecurityGroupIngress as Json[];
      assert.deepEqual(
        ingress.map((r) => [r.IpProtocol, r.FromPort, r.ToPort, r.CidrIp ?? r.CidrIpv6]).sort(),
        ports
          .flatMap((p) => [
            ["tcp", p, p, "0.0.0.0/0"],
            ["tcp", p, p, "::/0"],
          ])
          .sort(),
        variant,
      );
      assert.equal(resourcesOf(variant, "Miner", "AWS::EC2::SecurityGroupIngress").length, 0, variant);
      // The task maps the same ports and tells the container which they are (one per hotkey of its secret).
      const container = axonContainer(variant);
      assert.deepEqual(
        container.PortMappings,
        ports.map((p) => ({ ContainerPort: p, HostPort: p, Protocol: "tcp" })),
        variant,
      );
      const env = Object.fromEntries(
        (container.Environment as { Name: string; Value: Json }[]).map((e) => [e.Name, e.Value]),
      );
      assert.equal(env.ROADWORK_PORTS, ports.join(","), variant);
      assert.equal(env.ROADWORK_PORT, undefined, variant);
      assert.equal(stackOf(variant, "Miner").template.Outputs?.AxonPorts?.Value, ports.join(","), variant);
    }
  });

  test("public subnets only: no NAT gateway, no private subnet", () => {
    assert.equal(resourcesOf("mainnet", "Miner", "AWS::EC2::NatGateway").length, 0);
    const subnets = resourcesOf("mainnet", "Miner", "AWS::EC2::Subnet");
    assert.ok(subnets.length >= 2);
    for (const s of subnets) assert.equal(s.Properties.MapPublicIpOnLaunch, true);
  });

  test("launch template: pinned AMI, IMDSv2 required, encrypted EBS, no key pair, a fence that survives reboots", () => {
    const [lt] = resourcesOf("mainnet", "Miner", "AWS::EC2::LaunchTemplate");
    const data = lt.Properties.LaunchTemplateData;
    assert.equal(data.MetadataOptions.HttpTokens, "required");
    assert.equal(data.KeyName, undefined);
    assert.deepEqual(
      data.BlockDeviceMappings.map((b: Json) => [b.Ebs.Encrypted, b.Ebs.VolumeType]),
      [[true, "gp3"]],
    );
    // The AMI is the configured id, not an SSM parameter re-resolved on every deploy.
    assert.equal(data.ImageId, "ami-0123456789abcdef0");
    assert.doesNotMatch(JSON.stringify(stackOf("mainnet", "Miner").template.Parameters ?? {}), /optimized-ami/);

    const script = userDataText(data.UserData);
    assert.match(script, /X-aws-ec2-metadata-token-ttl-seconds/);
    assert.match(script, /meta-data\/instance-id > \/var\/lib\/roadwork\/instance-id/);
    // The host no longer takes the address at boot: the container claims it once it answers.
    assert.doesNotMatch(script, /associate-address/);
    assert.match(script, /roadwork-imds-fence\.service/);
    assert.match(script, /WantedBy=multi-user\.target/);
    assert.match(script, /systemctl enable --now roadwork-imds-fence\.service/);
    assert.match(script, /--uid-owner 1000 --jump REJECT/);
    assert.match(script, /ECS_ENABLE_SPOT_INSTANCE_DRAINING=true/);
    assert.match(script, /ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true/);
    assert.match(script, /ECS_CLUSTER=/);

    const onDemand = resourcesOf("mainnet-on-demand", "Miner", "AWS::EC2::LaunchTemplate")[0];
    assert.doesNotMatch(userDataText(onDemand.Properties.LaunchTemplateData.UserData), /SPOT_INSTANCE_DRAINING/);
    const cpu = resourcesOf("testnet", "Miner", "AWS::EC2::LaunchTemplate")[0];
    assert.doesNotMatch(userDataText(cpu.Properties.LaunchTemplateData.UserData), /ECS_ENABLE_GPU_SUPPORT/);
  });

  test("the task claims the address (this allocation, the stage's hosts only); the host role cannot", () => {
    const template = templateOf("mainnet", "Miner");
    const [taskDef] = resourcesOf("mainnet", "Miner", "AWS::ECS::TaskDefinition");
    const taskRole = taskDef.Properties.TaskRoleArn["Fn::GetAtt"][0];
    const policies = resourcesOf("mainnet", "Miner", "AWS::IAM::Policy");
    const statementsOf = (role: string) =>
      policies
        .filter((p) => p.Properties.Roles.some((r: Json) => r.Ref === role))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[]);
    const associate = statementsOf(taskRole).filter((s) => [s.Action].flat().includes("ec2:AssociateAddress"));
    assert.equal(associate.length, 2);
    const text = JSON.stringify(associate);
    assert.match(text, /elastic-ip\/.*AllocationId/);
    assert.match(text, /instance\/\*/);
    assert.match(text, /aws:ResourceTag\/roadwork:axon-host/);
    const otherRoles = policies.filter((p) => !p.Properties.Roles.some((r: Json) => r.Ref === taskRole));
    assert.doesNotMatch(JSON.stringify(otherRoles), /ec2:AssociateAddress/);
    const env = axonContainer("mainnet").Environment as { Name: string; Value: Json }[];
    assert.match(JSON.stringify(env.find((e) => e.Name === "ROADWORK_EIP_ALLOCATION_ID")?.Value), /AllocationId/);
    assert.equal(env.find((e) => e.Name === "ROADWORK_INSTANCE_ID_FILE")?.Value, "/run/roadwork/instance-id");
    const onDemandEnv = axonContainer("mainnet-on-demand").Environment as { Name: string; Value: Json }[];
    assert.equal(onDemandEnv.find((e) => e.Name === "ROADWORK_EIP_ALLOCATION_ID")?.Value, "eipalloc-0123456789abcdef0");
    // Spot hosts may mark themselves DRAINING, on-demand hosts need not.
    const drain = (variant: Variant) =>
      JSON.stringify(resourcesOf(variant, "Miner", "AWS::IAM::Policy")).includes("ecs:UpdateContainerInstancesState");
    assert.equal(drain("mainnet"), true);
    assert.equal(drain("mainnet-on-demand"), false);
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: "ec2.amazonaws.com" } })]),
      }),
      ManagedPolicyArns: Match.arrayWith([
        Match.objectLike({
          "Fn::Join": Match.arrayWith([Match.arrayWith([":iam::aws:policy/AmazonSSMManagedInstanceCore"])]),
        }),
      ]),
    });
    // Kept on stack removal (validators know it), released when the first create fails.
    const eip = Object.values(stackOf("mainnet", "Miner").template.Resources as Record<string, Json>).find(
      (r) => r.Type === "AWS::EC2::EIP",
    );
    assert.equal(eip.DeletionPolicy, "RetainExceptOnCreate");
    assert.equal(eip.UpdateReplacePolicy, "Retain");
    assert.equal(resourcesOf("mainnet-on-demand", "Miner", "AWS::EC2::EIP").length, 0);
  });

  test("one instance: spot across g4dn/g5/g6 capacity-optimized by default, on-demand and CPU on request", () => {
    const asgOf = (variant: Variant) => resourcesOf(variant, "Miner", "AWS::AutoScaling::AutoScalingGroup")[0];
    const spot = asgOf("mainnet").Properties;
    assert.equal(spot.MinSize, "1");
    assert.equal(spot.MaxSize, "1");
    assert.equal(spot.CapacityRebalance, true);
    const spotPolicy = spot.MixedInstancesPolicy;
    assert.deepEqual(
      spotPolicy.LaunchTemplate.Overrides.map((o: Json) => o.InstanceType),
      [...GPU_INSTANCE_TYPES],
    );
    assert.equal(spotPolicy.InstancesDistribution.SpotAllocationStrategy, "capacity-optimized-prioritized");
    assert.equal(spotPolicy.InstancesDistribution.OnDemandPercentageAboveBaseCapacity, 0);

    const onDemand = asgOf("mainnet-on-demand").Properties.MixedInstancesPolicy.InstancesDistribution;
    assert.equal(onDemand.OnDemandPercentageAboveBaseCapacity, 100);
    assert.equal(onDemand.SpotAllocationStrategy, undefined);

    const cpu = asgOf("testnet").Properties.MixedInstancesPolicy.LaunchTemplate.Overrides;
    assert.ok(cpu.every((o: Json) => !/^g\d/.test(o.InstanceType)));
    // Tagged for the per-stage budget.
    assert.ok(
      (asgOf("mainnet").Properties.Tags as Json[]).some((t) => t.Key === "roadwork:stage" && t.Value === "mainnet"),
    );
  });

  test("the service runs one task on the capacity provider and the image source follows the config", () => {
    templateOf("mainnet", "Miner").hasResourceProperties("AWS::ECS::Service", {
      DesiredCount: 1,
      DeploymentConfiguration: Match.objectLike({ MinimumHealthyPercent: 0, MaximumPercent: 100 }),
      CapacityProviderStrategy: [Match.objectLike({ Weight: 1 })],
    });
    // The service waits for the cluster's capacity-provider association.
    const resources = stackOf("mainnet", "Miner").template.Resources as Record<string, Json>;
    const [serviceId, service] = Object.entries(resources).find(([, r]) => r.Type === "AWS::ECS::Service")!;
    const association = Object.keys(resources).find(
      (id) => resources[id].Type === "AWS::ECS::ClusterCapacityProviderAssociations",
    );
    assert.ok(association, "no capacity provider association");
    assert.ok([service.DependsOn ?? []].flat().includes(association), `${serviceId} does not depend on ${association}`);
    // Default image: the stage's own repository and the pushed tag, never CDK's shared asset repository.
    assert.match(JSON.stringify(axonContainer("mainnet").Image), /roadwork-mainnet-axon:test-0123abcd/);
    assert.doesNotMatch(JSON.stringify(axonContainer("mainnet").Image), /cdk-hnb659fds-container-assets/);
    assert.match(JSON.stringify(axonContainer("mainnet-on-demand").Image), /roadwork-axon:v42/);
    const env = axonContainer("mainnet-on-demand").Environment as { Name: string; Value: Json }[];
    assert.equal(env.find((e) => e.Name === "ROADWORK_EXTERNAL_IP")?.Value, "203.0.113.7");
  });
});

describe("Storage stack", () => {
  test("every bucket is private, encrypted and TLS-only; models are versioned", () => {
    const stack = stackOf("mainnet", "Storage").template;
    const buckets = Object.entries(stack.Resources as Record<string, Json>).filter(
      ([, r]) => r.Type === "AWS::S3::Bucket",
    );
    assert.equal(buckets.length, 4);
    const policies = resourcesOf("mainnet", "Storage", "AWS::S3::BucketPolicy");
    for (const [id, bucket] of buckets) {
      const p = bucket.Properties;
      assert.ok(p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, id);
      assert.deepEqual(p.PublicAccessBlockConfiguration, {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      assert.equal(bucket.DeletionPolicy, "Retain", id);
      const policy = policies.find((x) => x.Properties.Bucket.Ref === id);
      assert.ok(policy, `${id} has a bucket policy`);
      const denyInsecure = (policy.Properties.PolicyDocument.Statement as Json[]).find(
        (s) => s.Effect === "Deny" && s.Condition?.Bool?.["aws:SecureTransport"] === "false",
      );
      assert.ok(denyInsecure, `${id} denies non-TLS access`);
      if (!id.startsWith("AccessLogs")) assert.ok(p.LoggingConfiguration?.DestinationBucketName, `${id} logs access`);
    }
    const models = buckets.find(([id]) => id.startsWith("Models"))?.[1];
    assert.equal(models.Properties.VersioningConfiguration.Status, "Enabled");
  });

  test("the axon image repository belongs to the stage and keeps only the last images", () => {
    const [repo] = resourcesOf("mainnet", "Storage", "AWS::ECR::Repository");
    assert.equal(repo.Properties.RepositoryName, "roadwork-mainnet-axon");
    assert.equal(repo.Properties.ImageTagMutability, "IMMUTABLE");
    const rules = JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText).rules as Json[];
    assert.deepEqual(
      rules.map((r) => [r.selection.tagStatus, r.selection.countType, r.selection.countNumber]),
      [
        ["untagged", "sinceImagePushed", 1],
        ["any", "imageCountMoreThan", 5],
      ],
    );
  });

  test("raw prediction logs expire after 30 days", () => {
    templateOf("mainnet", "Storage").hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: "expire-raw-prediction-logs",
            Prefix: "raw/",
            ExpirationInDays: 30,
            Status: "Enabled",
          }),
        ]),
      },
    });
  });
});

describe("Alarms stack", () => {
  test("the budget is the stage's (cost-allocation tag), warns on actual 75/90/110 % and on the forecast", () => {
    const [budget] = resourcesOf("mainnet", "Alarms", "AWS::Budgets::Budget");
    assert.equal(budget.Properties.Budget.TimeUnit, "MONTHLY");
    assert.equal(budget.Properties.Budget.BudgetLimit.Unit, "USD");
    assert.deepEqual(budget.Properties.Budget.CostFilters, { TagKeyValue: ["user:roadwork:stage$mainnet"] });
    const testnet = resourcesOf("testnet", "Alarms", "AWS::Budgets::Budget")[0];
    assert.deepEqual(testnet.Properties.Budget.CostFilters, { TagKeyValue: ["user:roadwork:stage$testnet"] });
    const notes = budget.Properties.NotificationsWithSubscribers as Json[];
    assert.deepEqual(
      notes.map((n) => [n.Notification.NotificationType, n.Notification.Threshold]),
      [
        ["ACTUAL", 75],
        ["ACTUAL", 90],
        ["ACTUAL", 110],
        ["FORECASTED", 100],
      ],
    );
    for (const n of notes) {
      assert.deepEqual(n.Subscribers.map((s: Json) => s.SubscriptionType).sort(), ["EMAIL", "SNS"]);
    }
  });

  test("every alarm notifies the operator topic; billing, silence, burning and runaway alarms exist", () => {
    const resources = stackOf("mainnet", "Alarms").template.Resources as Record<string, Json>;
    const topicId = Object.keys(resources).find((id) => resources[id].Type === "AWS::SNS::Topic");
    assert.ok(topicId);
    const alarms = Object.values(resources).filter((r) => r.Type === "AWS::CloudWatch::Alarm");
    assert.equal(alarms.length, 9);
    for (const alarm of alarms) {
      assert.deepEqual(alarm.Properties.AlarmActions, [{ Ref: topicId }], alarm.Properties.AlarmName);
    }
    const byMetric = (name: string) => alarms.find((a) => a.Properties.MetricName === name);
    const answers = byMetric(MINER_METRICS.answersOk);
    assert.equal(answers.Properties.Namespace, MINER_METRICS.namespace);
    assert.equal(answers.Properties.Period, 1800);
    // Testnet goes quiet for hours: missing answers are not an outage; the silence alarm covers it.
    assert.equal(answers.Properties.TreatMissingData, "notBreaching");
    assert.deepEqual(answers.Properties.Dimensions, [{ Name: "Stage", Value: "mainnet" }]);
    const silence = byMetric(MINER_METRICS.validatorChallenges);
    assert.equal(silence.Properties.TreatMissingData, "breaching");
    assert.equal(silence.Properties.Period, 2 * 3600);
    assert.equal(
      resourcesOf("testnet", "Alarms", "AWS::CloudWatch::Alarm").find(
        (a) => a.Properties.MetricName === MINER_METRICS.validatorChallenges,
      ).Properties.Period,
      12 * 3600,
    );
    assert.equal(byMetric(MINER_METRICS.subnetBurning).Properties.ComparisonOperator, "GreaterThanOrEqualToThreshold");
    assert.equal(byMetric(MINER_METRICS.gpuTasksOverdue).Properties.Threshold, 1);
    const billing = alarms.find((a) => a.Properties.Namespace === "AWS/Billing");
    assert.equal(billing.Properties.MetricName, "EstimatedCharges");
    assert.deepEqual(billing.Properties.Dimensions, [{ Name: "Currency", Value: "USD" }]);
    assert.equal(billing.Properties.Threshold, 400);
    for (const name of [MINER_METRICS.errorRate, MINER_METRICS.latencyP99, MINER_METRICS.metagraphAgeSeconds]) {
      assert.ok(byMetric(name), name);
    }
    assert.ok(
      alarms.some((a) => a.Properties.Namespace === "AWS/EC2" && a.Properties.MetricName === "StatusCheckFailed"),
    );
    templateOf("mainnet", "Alarms").hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "operator@example.com",
    });
    templateOf("mainnet", "Alarms").resourceCountIs("AWS::CloudWatch::Dashboard", 1);
    // The group's launch/terminate notifications go to the same topic.
    const asg = resourcesOf("mainnet", "Miner", "AWS::AutoScaling::AutoScalingGroup")[0];
    assert.match(JSON.stringify(asg.Properties.NotificationConfigurations), /OperatorAlerts/);
  });
});

describe("Alarms per hotkey", () => {
  test("several hotkeys: each port's own no-answers alarm on AnswersOk{Stage, AxonPort}; one hotkey: none", () => {
    const alarmsOf = (variant: Variant) => resourcesOf(variant, "Alarms", "AWS::CloudWatch::Alarm");
    const perPort = (variant: Variant) =>
      alarmsOf(variant).filter((a) =>
        (a.Properties.Dimensions as Json[] | undefined)?.some((d) => d.Name === MINER_METRICS.axonPortDimension),
      );
    assert.equal(perPort("mainnet").length, 0, "one hotkey: the stage alarm is its alarm");
    assert.equal(alarmsOf("testnet-gpu").length, 9 + 3);
    const alarms = perPort("testnet-gpu");
    assert.deepEqual(
      alarms.map((a) => [a.Properties.AlarmName, a.Properties.MetricName, a.Properties.Dimensions]),
      [8091, 8092, 8095].map((port) => [
        `roadwork-testnet-no-successful-answers-port-${port}`,
        MINER_METRICS.answersOk,
        [
          { Name: "AxonPort", Value: String(port) },
          { Name: "Stage", Value: "testnet" },
        ],
      ]),
    );
    for (const a of alarms) {
      assert.equal(a.Properties.ComparisonOperator, "LessThanThreshold");
      assert.equal(a.Properties.Threshold, 1);
      assert.equal(a.Properties.Period, 1800);
      assert.equal(a.Properties.AlarmActions.length, 1);
    }
  });
});

describe("Lifecycle stack (every stage)", () => {
  test("publish: no reserved concurrency, maxConcurrency 2 on the queue, 5 receives before the DLQ", () => {
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      const fns = resourcesOf(variant, "Lifecycle", "AWS::Lambda::Function");
      for (const fn of fns) assert.equal(fn.Properties.ReservedConcurrentExecutions, undefined, variant);
      const [mapping] = resourcesOf(variant, "Lifecycle", "AWS::Lambda::EventSourceMapping");
      assert.deepEqual(mapping.Properties.ScalingConfig, { MaximumConcurrency: 2 });
      const queues = resourcesOf(variant, "Lifecycle", "AWS::SQS::Queue");
      const redrives = queues.map((q) => q.Properties.RedrivePolicy?.maxReceiveCount).filter(Boolean);
      assert.deepEqual(redrives.sort(), [3, 5], variant);
    }
  });

  test("NATIX registration is off unless asked for; the subnet watch runs every 15 minutes with its DLQ", () => {
    const env = (variant: Variant) =>
      resourcesOf(variant, "Lifecycle", "AWS::Lambda::Function").map((f) => f.Properties.Environment?.Variables ?? {});
    assert.equal(env("mainnet").find((v) => v.NATIX_REGISTRATION)?.NATIX_REGISTRATION, "off");
    assert.equal(env("testnet-gpu").find((v) => v.NATIX_REGISTRATION)?.NATIX_REGISTRATION, "on");
    const watch = (variant: Variant) => env(variant).find((v) => v.POWERTOOLS_SERVICE_NAME === "subnet-watch");
    assert.equal(watch("mainnet")?.PAUSE_AFTER_DAYS, "");
    assert.equal(watch("testnet-gpu")?.PAUSE_AFTER_DAYS, "7");
    assert.equal(watch("mainnet")?.AXON_ASG, "roadwork-mainnet-axon");
    const rules = resourcesOf("mainnet", "Lifecycle", "AWS::Events::Rule");
    assert.ok(rules.some((r) => r.Properties.ScheduleExpression === "rate(15 minutes)"));
    for (const rule of rules) {
      for (const target of rule.Properties.Targets) assert.ok(target.DeadLetterConfig?.Arn, "EventBridge target DLQ");
    }
    const names = resourcesOf("mainnet", "Lifecycle", "AWS::CloudWatch::Alarm").map((a) => a.Properties.AlarmName);
    assert.ok(names.includes("roadwork-mainnet-retrain-dead-letters"), names.join(", "));
    assert.ok(names.includes("roadwork-mainnet-schedule-dead-letters"), names.join(", "));
  });
});

describe("whole app", () => {
  test("any Lambda function runs nodejs22.x", () => {
    let count = 0;
    for (const stage of synthesized.values()) {
      for (const stack of stage.stacks.values()) {
        for (const r of Object.values(stack.template.Resources as Record<string, Json>)) {
          if (r.Type !== "AWS::Lambda::Function") continue;
          count++;
          assert.equal(r.Properties.Runtime, "nodejs22.x", stack.stackName);
        }
      }
    }
    assert.ok(count > 0, "SST's per-stack handler exists");
  });

  test("every Lambda function, ours or a custom-resource handler, logs into a group with retention", () => {
    for (const [variant, stage] of synthesized) {
      for (const stack of stage.stacks.values()) {
        const resources = stack.template.Resources as Record<string, Json>;
        for (const [id, r] of Object.entries(resources)) {
          if (r.Type !== "AWS::Lambda::Function") continue;
          const group = r.Properties.LoggingConfig?.LogGroup;
          assert.ok(group, `${variant} ${stack.id} ${id} logs into an implicit group without retention`);
          const ref = group.Ref ?? group["Fn::GetAtt"]?.[0];
          assert.ok(resources[ref]?.Properties?.RetentionInDays > 0, `${variant} ${stack.id} ${id}`);
        }
      }
    }
  });

  test("cdk-nag AwsSolutions: no unsuppressed finding, every suppression gives a reason", () => {
    for (const [variant, stage] of synthesized) {
      for (const stack of stage.stacks.values()) {
        const findings = stack.messages.filter(
          (m) => (m.level === "error" || m.level === "warning") && /AwsSolutions-|CdkNag/.test(m.text),
        );
        assert.deepEqual(findings, [], `${variant} ${stack.stackName}`);
        for (const r of Object.values(stack.template.Resources as Record<string, Json>)) {
          for (const rule of r.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
            assert.ok(typeof rule.reason === "string" && rule.reason.length >= 40, `${rule.id} in ${stack.stackName}`);
          }
        }
      }
    }
  });

  test("cfn-lint reports no error on any synthesized template", () => {
    const files = [...synthesized.values()].flatMap((s) => [...s.stacks.values()].map((x) => x.templateFile));
    const run = spawnSync("cfn-lint", ["--format", "parseable", "--", ...files], { encoding: "utf8" });
    if (run.error && (run.error as NodeJS.ErrnoException).code === "ENOENT") {
      assert.fail("cfn-lint is not installed: `pip install cfn-lint` (or `pipx install cfn-lint`), then re-run.");
    }
    // Exit status bits: 2 = errors, 4 = warnings, 8 = informational. Only errors fail the build.
    const errors = run.stdout.split("\n").filter((line) => /:E\d{4}:/.test(line));
    assert.deepEqual(errors, [], run.stderr);
    assert.equal((run.status ?? 1) & 2, 0, run.stdout + run.stderr);
    assert.equal((run.status ?? 1) & 1, 0, `cfn-lint failed to run: ${run.stderr}`);
  });
});

describe("cost estimate from the synthesized templates", () => {
  const prices = loadPriceTable();
  const estimate = (variant: Variant) =>
    estimateStage(
      variant,
      [...(synthesized.get(variant)?.stacks.values() ?? [])].map((s) => s.template),
      prices,
    );

  test("spot is a range over the fleet's types; on-demand g4dn is the $384/month host; testnet runs on CPU", () => {
    const spot = estimate("mainnet");
    assert.equal(spot.purchaseOption, "spot");
    assert.equal(spot.computeProfile, "gpu");
    assert.deepEqual(spot.instanceTypes, [...GPU_INSTANCE_TYPES]);
    assert.deepEqual(spot.hostHourlyRangeUsd, [0.221, 0.352]);
    const [low, high] = spot.monthlyRangeUsd;
    assert.ok(low < spot.monthlyUsd && spot.monthlyUsd < high, JSON.stringify(spot.monthlyRangeUsd));
    assert.ok(Math.abs(high - low - (0.352 - 0.221) * 730) < 0.05);
    assert.match(spot.lines.find((l) => l.item === "EC2 host")!.detail, /g4dn\.xlarge \$0\.221.*g5\.xlarge \$0\.352/);

    const onDemand = estimate("mainnet-on-demand");
    assert.equal(onDemand.purchaseOption, "on-demand");
    const host = onDemand.lines.find((l) => l.item === "EC2 host");
    assert.equal(host?.monthlyUsd, Math.round(0.526 * 730 * 100) / 100);

    const testnet = estimate("testnet");
    assert.equal(testnet.computeProfile, "cpu");
    assert.ok(testnet.monthlyRangeUsd[1] < 60, `testnet fits its $60 budget: ${testnet.monthlyRangeUsd}`);
  });

  test("every deployed resource type is priced or known to be free", () => {
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      assert.deepEqual(estimate(variant).unpriced, [], variant);
    }
  });
});
