// The always-on axon: one GPU host (spot by default) in an ECS cluster, reachable at a stable Elastic IP on the axon
// ports (one per hotkey the host serves, stacks/config.ts axonPorts) and nowhere else. No NAT gateway (public subnets only), no SSH (Session Manager), no load balancer: validators
// dial the IP that serve_axon registered. The axon container claims that address itself once it listens with a model
// (containers/axon/address-claim.ts), so a replacement host takes traffic only when it can answer.
import { Duration, RemovalPolicy, Tags } from "aws-cdk-lib";
import * as autoscaling from "aws-cdk-lib/aws-autoscaling";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecr from "aws-cdk-lib/aws-ecr";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { NagSuppressions } from "cdk-nag";
import { type StackContext, use } from "sst/constructs";
import { useProject } from "sst/project.js";
import { Alarms } from "./Alarms.ts";
import { instanceTypesOf, MINER_METRICS, resourceNames, type StageConfig, stageConfigFor } from "./config.ts";
import { suppressSstStackHandler } from "./nag.ts";
import { RAW_PREDICTIONS_PREFIX, Storage } from "./Storage.ts";

/** Tag on every host the group launches; the Elastic IP permission is scoped to instances carrying it. */
export const HOST_TAG_KEY = "roadwork:axon-host";
/**
 * Environment variable the ECS agent fills from the hotkey secret (never a plain environment value). The secret holds
 * JSON, {"seedHex":"0x…"} or {"mnemonic":"…"}, the same secret the lifecycle functions read — or, for several
 * hotkeys on this host, {"hotkeys":[…]} with one entry per port of the stage (containers/axon/hotkey-list.ts).
 */
export const HOTKEY_SECRET_ENV = "ROADWORK_HOTKEY_SECRET";
/** Where the axon keeps captured challenges in the datasets bucket; `roadwork dataset import` reads this layout. */
export const CAPTURES_PREFIX = "captures/";
/** uid of the `node` user the axon image runs as (see containers/axon/Dockerfile). */
export const AXON_CONTAINER_UID = 1000;
/** Refreshed every 15 s by the axon process (containers/axon/heartbeat.ts); the ECS health check reads its age. */
export const HEARTBEAT_FILE = "/tmp/roadwork-axon.heartbeat";

const IMDS = "http://169.254.169.254/latest";
/** Host folder holding what the container may know about its host (the instance id); mounted read-only. */
export const HOST_INFO_DIR = "/var/lib/roadwork";
export const CONTAINER_HOST_INFO_DIR = "/run/roadwork";

/**
 * Boot script additions: ECS agent settings, the instance id for the container's address claim, and an IMDS fence for
 * the axon's uid, installed as a systemd unit so it holds after a reboot too. With host networking the container
 * shares the host's network namespace, so the usual docker-bridge IMDS block does not apply; the owner match keeps the
 * axon on its task role instead of the host's.
 */
export function hostBootCommands(config: StageConfig): string[] {
  const gpuSettings =
    config.computeProfile === "gpu" ? ["echo ECS_ENABLE_GPU_SUPPORT=true >> /etc/ecs/ecs.config"] : [];
  // On a two-minute spot notice the agent marks the host DRAINING so ECS stops the task cleanly. (CDK's
  // spotInstanceDraining option only acts on launch-configuration spot prices, not on mixed-instances groups.)
  const spotSettings =
    config.purchaseOption === "spot" ? ["echo ECS_ENABLE_SPOT_INSTANCE_DRAINING=true >> /etc/ecs/ecs.config"] : [];
  const rule = `OUTPUT --destination 169.254.169.254/32 --match owner --uid-owner ${AXON_CONTAINER_UID} --jump REJECT`;
  return [
    // Task IAM roles are off by default for host-network tasks.
    "echo ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true >> /etc/ecs/ecs.config",
    ...gpuSettings,
    ...spotSettings,
    "cat > /etc/systemd/system/roadwork-imds-fence.service <<'UNIT'",
    "[Unit]",
    `Description=Keep uid ${AXON_CONTAINER_UID} (the axon container) off instance metadata`,
    "Before=docker.service ecs.service",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    `ExecStart=/bin/sh -c 'iptables --check ${rule} 2>/dev/null || iptables --insert ${rule.replace("OUTPUT", "OUTPUT 1")}'`,
    "[Install]",
    "WantedBy=multi-user.target",
    "UNIT",
    "systemctl daemon-reload",
    `systemctl enable --now roadwork-imds-fence.service || echo "roadwork: could not fence IMDS from uid ${AXON_CONTAINER_UID}" >&2`,
    // The container cannot ask IMDS (fenced above) which instance it runs on; root writes it down once.
    `mkdir -p ${HOST_INFO_DIR}`,
    `token=$(curl -fsS -X PUT ${IMDS}/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')`,
    `curl -fsS -H "X-aws-ec2-metadata-token: $token" ${IMDS}/meta-data/instance-id > ${HOST_INFO_DIR}/instance-id`,
    `chmod 0644 ${HOST_INFO_DIR}/instance-id`,
  ];
}

function axonImage(stack: StackContext["stack"], config: StageConfig): ecs.ContainerImage {
  if (config.axonImage.source === "project") {
    const repository = ecr.Repository.fromRepositoryName(stack, "AxonRepository", resourceNames(config).axonRepository);
    return ecs.ContainerImage.fromEcrRepository(repository, config.axonImage.tag);
  }
  if (config.axonImage.source === "ecr") {
    const repository = ecr.Repository.fromRepositoryName(stack, "AxonRepository", config.axonImage.repositoryName);
    return ecs.ContainerImage.fromEcrRepository(repository, config.axonImage.tag);
  }
  // The build context is the repository root (the image needs the workspace packages); .dockerignore keeps it small.
  // Synthesis only fingerprints the context; Docker runs when `sst deploy` publishes the asset.
  return ecs.ContainerImage.fromAsset(useProject().paths.root, {
    file: "containers/axon/Dockerfile",
    target: config.computeProfile,
    platform: Platform.LINUX_AMD64,
  });
}

export function Miner({ stack, app }: StackContext) {
  const config = stageConfigFor(app);
  const names = resourceNames(config);
  const { models, predictions, datasets } = use(Storage);
  const { topic } = use(Alarms);
  const gpu = config.computeProfile === "gpu";
  const spot = config.purchaseOption === "spot";

  const vpc = new ec2.Vpc(stack, "Vpc", {
    maxAzs: config.maxAzs,
    natGateways: 0,
    subnetConfiguration: [
      { name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: true },
    ],
  });
  NagSuppressions.addResourceSuppressions(vpc, [
    {
      id: "AwsSolutions-VPC7",
      reason:
        "The VPC holds one host whose only ingress is the public axon port; flow logs would cost more than the " +
        "insight they add. Requests are verified (sr25519 signature, nonce, stake) and logged by the axon itself.",
    },
  ]);

  const ports = config.axonPorts;
  const securityGroup = new ec2.SecurityGroup(stack, "AxonSecurityGroup", {
    vpc,
    description: `Roadwork axon (${config.stage}): validators reach tcp ${ports.join(", ")}; nothing else comes in`,
    allowAllOutbound: true,
    allowAllIpv6Outbound: true,
  });
  // One port per hotkey, each its own rule: no range that would also open the ports in between.
  for (const port of ports) {
    securityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), `Bittensor validators (IPv4) :${port}`);
    securityGroup.addIngressRule(ec2.Peer.anyIpv6(), ec2.Port.tcp(port), `Bittensor validators (IPv6) :${port}`);
  }
  NagSuppressions.addResourceSuppressions(securityGroup, [
    {
      id: "AwsSolutions-EC23",
      reason:
        "Validators of the subnet connect from arbitrary addresses to the axon port registered on chain; the axon " +
        "authenticates every request (hotkey signature, nonce, metagraph membership) before doing any work.",
    },
  ]);

  const eip =
    config.externalIp.mode === "create"
      ? new ec2.CfnEIP(stack, "AxonAddress", {
          domain: "vpc",
          tags: [{ key: "Name", value: `roadwork-${config.stage}-axon` }],
        })
      : undefined;
  // Validators know this address from serve_axon; it outlives a stack removal, but a create that fails and rolls
  // back releases it instead of leaking a billed address (RetainExceptOnCreate).
  eip?.applyRemovalPolicy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE);
  const allocationId = eip
    ? eip.attrAllocationId
    : config.externalIp.mode === "existing"
      ? config.externalIp.allocationId
      : "";
  const publicIp = eip ? eip.attrPublicIp : config.externalIp.mode === "existing" ? config.externalIp.publicIp : "";

  const hostRole = new iam.Role(stack, "HostRole", {
    assumedBy: new iam.ServicePrincipal("ec2.amazonaws.com"),
    description: "Host of the axon: ECS agent and Session Manager",
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName("AmazonSSMManagedInstanceCore")],
  });

  const userData = ec2.UserData.forLinux();
  userData.addCommands(...hostBootCommands(config));

  const launchTemplate = new ec2.LaunchTemplate(stack, "HostTemplate", {
    // Pinned (stacks/host-amis.json): an unrelated deploy never replaces the only host because AWS released an AMI.
    machineImage: ec2.MachineImage.genericLinux({ [config.region]: config.hostAmiId }),
    userData,
    role: hostRole,
    securityGroup,
    requireImdsv2: true,
    httpPutResponseHopLimit: 1,
    blockDevices: [
      {
        deviceName: "/dev/xvda",
        volume: ec2.BlockDeviceVolume.ebs(config.rootVolumeGiB, {
          encrypted: true,
          volumeType: ec2.EbsDeviceVolumeType.GP3,
          deleteOnTermination: true,
        }),
      },
    ],
  });

  const instanceTypes = instanceTypesOf(config);
  const hosts = new autoscaling.AutoScalingGroup(stack, "Hosts", {
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
    autoScalingGroupName: names.autoScalingGroup,
    minCapacity: 1,
    maxCapacity: 1,
    mixedInstancesPolicy: {
      launchTemplate,
      launchTemplateOverrides: instanceTypes.map((t) => ({ instanceType: new ec2.InstanceType(t) })),
      instancesDistribution: spot
        ? {
            onDemandBaseCapacity: 0,
            onDemandPercentageAboveBaseCapacity: 0,
            // Capacity first (fewest interruptions), then the listed order (cheapest GPU first) among pools
            // with spare capacity.
            spotAllocationStrategy: autoscaling.SpotAllocationStrategy.CAPACITY_OPTIMIZED_PRIORITIZED,
          }
        : {
            onDemandBaseCapacity: 1,
            onDemandPercentageAboveBaseCapacity: 100,
            onDemandAllocationStrategy: autoscaling.OnDemandAllocationStrategy.PRIORITIZED,
          },
    },
    // ECS gets no rebalance signal for spot; the group itself starts a replacement when EC2 warns of a reclaim. The
    // new host takes the Elastic IP only when its axon listens with a model (the container claims it).
    capacityRebalance: spot,
    notifications: [{ topic, scalingEvents: autoscaling.ScalingEvents.ALL }],
    updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({ maxBatchSize: 1, minInstancesInService: 0 }),
  });
  Tags.of(hosts).add(HOST_TAG_KEY, config.stage, { applyToLaunchedInstances: true });

  const cluster = new ecs.Cluster(stack, "Cluster", { vpc, clusterName: names.cluster });
  const capacity = new ecs.AsgCapacityProvider(stack, "HostCapacity", {
    autoScalingGroup: hosts,
    // Exactly one host, sized by the group itself; ECS only places the task on it.
    enableManagedScaling: false,
    enableManagedTerminationProtection: false,
    // ECS drains the host itself on scale-in and instance refresh (no Lambda lifecycle hook).
    enableManagedDraining: true,
    machineImageType: ecs.MachineImageType.AMAZON_LINUX_2,
  });
  cluster.addAsgCapacityProvider(capacity);
  if (spot) {
    // Spot draining: the agent marks its own container instance DRAINING (CDK's agent policy lacks this action).
    hostRole.addToPolicy(
      new iam.PolicyStatement({
        sid: "DrainOnSpotInterruption",
        actions: ["ecs:UpdateContainerInstancesState"],
        resources: ["*"],
        conditions: { ArnEquals: { "ecs:cluster": cluster.clusterArn } },
      }),
    );
  }
  NagSuppressions.addResourceSuppressions(cluster, [
    {
      id: "AwsSolutions-ECS4",
      reason:
        "One task on one host: Container Insights would bill per-metric for what the axon's own RoadworkMiner " +
        "metrics and the EC2 status alarm already cover.",
    },
  ]);

  const logGroup = new logs.LogGroup(stack, "AxonLogs", {
    logGroupName: names.axonLogGroup,
    retention: config.logRetentionDays as logs.RetentionDays,
    removalPolicy: RemovalPolicy.DESTROY,
  });

  // Host networking: on EC2, an awsvpc task gets its own ENI and never a public IP, so it could not be reached at
  // the Elastic IP; with host networking the axon listens on the host's interface, which holds that IP.
  const taskDefinition = new ecs.Ec2TaskDefinition(stack, "AxonTask", {
    family: `roadwork-${config.stage}-axon`,
    networkMode: ecs.NetworkMode.HOST,
  });
  // Explicit actions rather than Bucket.grantRead/grantPut: the axon reads bundles and writes records, nothing more.
  taskDefinition.taskRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: "ReadModelBundles",
      actions: ["s3:GetObject", "s3:GetObjectVersion"],
      resources: [models.arnForObjects("*")],
    }),
  );
  taskDefinition.taskRole.addToPrincipalPolicy(
    new iam.PolicyStatement({ sid: "ListModelBundles", actions: ["s3:ListBucket"], resources: [models.bucketArn] }),
  );
  taskDefinition.taskRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: "WritePredictionRecords",
      actions: ["s3:PutObject"],
      resources: [predictions.arnForObjects("*")],
    }),
  );
  // Challenge capture (the flywheel's first step): sampled images and their records, written off the hot path.
  taskDefinition.taskRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: "WriteChallengeCaptures",
      actions: ["s3:PutObject"],
      resources: [datasets.arnForObjects(`${CAPTURES_PREFIX}*`)],
    }),
  );
  // The address claim, after listening: this one allocation, onto instances of this stage's group only.
  taskDefinition.taskRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: "ClaimAxonAddress",
      actions: ["ec2:AssociateAddress"],
      resources: [stack.formatArn({ service: "ec2", resource: "elastic-ip", resourceName: allocationId })],
    }),
  );
  taskDefinition.taskRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: "OntoOwnHostsOnly",
      actions: ["ec2:AssociateAddress"],
      resources: [stack.formatArn({ service: "ec2", resource: "instance", resourceName: "*" })],
      conditions: { StringEquals: { [`aws:ResourceTag/${HOST_TAG_KEY}`]: config.stage } },
    }),
  );
  taskDefinition.addVolume({ name: "host-info", host: { sourcePath: HOST_INFO_DIR } });
  taskDefinition.taskRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: "PublishMinerMetrics",
      actions: ["cloudwatch:PutMetricData"],
      resources: ["*"],
      conditions: { StringEquals: { "cloudwatch:namespace": MINER_METRICS.namespace } },
    }),
  );

  const hotkey = secretsmanager.Secret.fromSecretNameV2(stack, "Hotkey", config.hotkeySecretName);
  const axon = taskDefinition.addContainer("axon", {
    image: axonImage(stack, config),
    memoryReservationMiB: config.containerMemoryMiB[config.computeProfile],
    gpuCount: gpu ? 1 : undefined,
    portMappings: ports.map((port) => ({ containerPort: port, hostPort: port, protocol: ecs.Protocol.TCP })),
    environment: {
      ROADWORK_STAGE: config.stage,
      ROADWORK_NETUID: String(config.netuid),
      ROADWORK_CHAIN_ENDPOINT: config.chainEndpoint,
      ROADWORK_EXTERNAL_IP: publicIp,
      ROADWORK_EIP_ALLOCATION_ID: allocationId,
      ROADWORK_INSTANCE_ID_FILE: `${CONTAINER_HOST_INFO_DIR}/instance-id`,
      // One per hotkey in the hotkey secret; the container refuses to start when the counts differ.
      ROADWORK_PORTS: ports.join(","),
      ROADWORK_MODEL: `s3://${models.bucketName}/${config.modelBundleKey}`,
      ROADWORK_PREDICTIONS_BUCKET: predictions.bucketName,
      ROADWORK_PREDICTIONS_PREFIX: RAW_PREDICTIONS_PREFIX,
      ROADWORK_CAPTURE_BUCKET: datasets.bucketName,
      ROADWORK_CAPTURE_PREFIX: CAPTURES_PREFIX,
      ROADWORK_METRICS_NAMESPACE: MINER_METRICS.namespace,
      ROADWORK_DEVICE: config.computeProfile,
      AWS_REGION: stack.region,
    },
    secrets: { [HOTKEY_SECRET_ENV]: ecs.Secret.fromSecretsManager(hotkey) },
    logging: ecs.LogDrivers.awsLogs({ streamPrefix: "axon", logGroup }),
    // Alive, not "answering": the process refreshes a heartbeat file while it waits for a first model and while it
    // serves (containers/axon/heartbeat.ts), so a fresh stage without models/current.json deploys and stays up,
    // healthy but silent, instead of failing its health check until the circuit breaker rolls the stack back.
    healthCheck: {
      command: [
        "CMD",
        "node",
        "-e",
        `const s=require("node:fs").statSync("${HEARTBEAT_FILE}",{throwIfNoEntry:false});process.exit(s&&Date.now()-s.mtimeMs<90000?0:1)`,
      ],
      interval: Duration.seconds(30),
      timeout: Duration.seconds(5),
      retries: 3,
      startPeriod: Duration.seconds(180),
    },
    stopTimeout: Duration.seconds(30),
  });
  axon.addMountPoints({ sourceVolume: "host-info", containerPath: CONTAINER_HOST_INFO_DIR, readOnly: true });

  const service = new ecs.Ec2Service(stack, "Axon", {
    cluster,
    taskDefinition,
    serviceName: `roadwork-${config.stage}-axon`,
    desiredCount: 1,
    // One host and fixed host ports: the old task must stop before the new one can bind them.
    minHealthyPercent: 0,
    maxHealthyPercent: 100,
    capacityProviderStrategies: [{ capacityProvider: capacity.capacityProviderName, weight: 1 }],
    circuitBreaker: { enable: true, rollback: true },
  });
  // The service needs the cluster's capacity-provider association (created by CDK at synthesis, inside the cluster
  // construct); without this edge CloudFormation may create the service first ("capacity provider not associated").
  service.node.addDependency(cluster);

  NagSuppressions.addResourceSuppressions(
    taskDefinition,
    [
      {
        id: "AwsSolutions-ECS2",
        reason:
          "Plain environment values are non-secret settings (netuid, endpoint, bucket names, port); the hotkey " +
          "comes from Secrets Manager through the task definition's secrets.",
      },
      {
        id: "AwsSolutions-IAM5",
        appliesTo: ["Resource::*"],
        reason: "cloudwatch:PutMetricData has no resource type; it is restricted to the RoadworkMiner namespace.",
      },
      {
        id: "AwsSolutions-IAM5",
        appliesTo: [{ regex: "/^Resource::arn:[^:]+:ec2:[^:]+:[^:]+:instance\\/\\*$/g" }],
        reason:
          "The instance id is unknown until the group launches it; the statement is limited to AssociateAddress on " +
          `instances tagged ${HOST_TAG_KEY}=<stage>, for the stage's one Elastic IP.`,
      },
      {
        id: "AwsSolutions-IAM5",
        appliesTo: [{ regex: "/^Resource::<(Models|Predictions)[A-F0-9]+\\.Arn>\\/\\*$/g" }],
        reason:
          "Object-level statements: the axon reads whichever model bundle current.json points at and writes " +
          "prediction records and hard cases under keys it derives per request.",
      },
      {
        id: "AwsSolutions-IAM5",
        appliesTo: [{ regex: "/^Resource::<Datasets[A-F0-9]+\\.Arn>\\/captures\\/\\*$/g" }],
        reason: "Captured challenges are keyed by date and image hash per request; writes stay under captures/.",
      },
    ],
    true,
  );
  NagSuppressions.addResourceSuppressions(
    hostRole,
    [
      {
        id: "AwsSolutions-IAM4",
        appliesTo: ["Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore"],
        reason: "Session Manager replaces SSH (no key pair, no port 22); this is the policy AWS maintains for it.",
      },
      {
        id: "AwsSolutions-IAM5",
        appliesTo: ["Resource::*", "Action::ecs:Submit*"],
        reason:
          "ECS container-instance actions added by Cluster.addAsgCapacityProvider (ecs:Submit*, Poll, " +
          "StartTelemetrySession, logs) and the spot-draining UpdateContainerInstancesState have no resource " +
          "scoping beyond what the ECS agent needs; the ecs actions are conditioned on this cluster.",
      },
    ],
    true,
  );
  NagSuppressions.addResourceSuppressions(hosts, [
    {
      id: "CdkNagValidationFailure",
      reason:
        "AwsSolutions-EC26 cannot follow the mixed-instances policy into the launch template; the template's only " +
        "block device is an encrypted gp3 volume (asserted by stacks/stacks.test.ts).",
    },
  ]);
  suppressSstStackHandler(stack);

  stack.addOutputs({
    AxonAddress: publicIp,
    AxonPorts: ports.join(","),
    Cluster: cluster.clusterName,
    Service: service.serviceName,
    LogGroup: logGroup.logGroupName,
  });

  return { vpc, cluster, service, taskDefinition, container: axon, hosts, securityGroup, logGroup, publicIp };
}
