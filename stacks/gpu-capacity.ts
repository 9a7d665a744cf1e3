// GPU hosts that exist only while an ECS task needs one: a cluster, one launch template (ECS-optimized GPU AMI,
// IMDSv2, an encrypted gp3 root volume), one Auto Scaling group per pool (0..1 hosts, spot or on-demand) and an ECS
// capacity provider per group with managed scaling and draining, so RunTask (or a service at desired 1) starts a host
// and the last task's end returns it. Used by the trainer (stacks/Pipeline.ts) and the Cosmos NIM (stacks/Synth.ts).
//
// A function that builds into the caller's stack, not a Construct subclass: the resources keep the logical ids they
// had before this was shared (a nested construct would rename, hence replace, every host resource of a deployed stage).
import * as autoscaling from "aws-cdk-lib/aws-autoscaling";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as sns from "aws-cdk-lib/aws-sns";
import { NagSuppressions } from "cdk-nag";
import type { Construct } from "constructs";

export interface GpuPool {
  /** Construct ids of the Auto Scaling group and its capacity provider. */
  groupId: string;
  providerId: string;
  instanceTypes: string[];
  /** Spot (capacity-optimized) or on-demand. */
  spot: boolean;
}

export interface GpuCapacityProps {
  vpc: ec2.IVpc;
  /** Scaling errors of the groups notify this topic. */
  alertTopic: sns.ITopic;
  /** Prefix of the construct ids: `<name>Cluster`, `<name>HostSg`, `<name>HostRole`, `<name>HostTemplate`. */
  name: string;
  hostDescription: string;
  rootVolumeGiB: number;
  pools: GpuPool[];
}

export interface GpuCapacity {
  cluster: ecs.Cluster;
  hostSecurityGroup: ec2.SecurityGroup;
  hostRole: iam.Role;
  groups: autoscaling.AutoScalingGroup[];
  /** In the order of `pools`. */
  providers: ecs.AsgCapacityProvider[];
}

export function gpuCapacity(scope: Construct, props: GpuCapacityProps): GpuCapacity {
  const { vpc, name } = props;
  const cluster = new ecs.Cluster(scope, `${name}Cluster`, { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
  const hostSecurityGroup = new ec2.SecurityGroup(scope, `${name}HostSg`, {
    vpc,
    description: props.hostDescription,
    allowAllOutbound: true,
  });
  const hostRole = new iam.Role(scope, `${name}HostRole`, { assumedBy: new iam.ServicePrincipal("ec2.amazonaws.com") });
  hostRole.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName("AmazonSSMManagedInstanceCore"));
  const template = new ec2.LaunchTemplate(scope, `${name}HostTemplate`, {
    machineImage: ecs.EcsOptimizedImage.amazonLinux2023(ecs.AmiHardwareType.GPU),
    userData: ec2.UserData.forLinux(),
    role: hostRole,
    securityGroup: hostSecurityGroup,
    requireImdsv2: true,
    blockDevices: [
      {
        deviceName: "/dev/xvda",
        volume: ec2.BlockDeviceVolume.ebs(props.rootVolumeGiB, {
          encrypted: true,
          volumeType: ec2.EbsDeviceVolumeType.GP3,
          deleteOnTermination: true,
        }),
      },
    ],
  });
  const groups: autoscaling.AutoScalingGroup[] = [];
  const providers: ecs.AsgCapacityProvider[] = [];
  for (const pool of props.pools) {
    const group = new autoscaling.AutoScalingGroup(scope, pool.groupId, {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      minCapacity: 0,
      maxCapacity: 1,
      mixedInstancesPolicy: {
        launchTemplate: template,
        launchTemplateOverrides: pool.instanceTypes.map((t) => ({ instanceType: new ec2.InstanceType(t) })),
        instancesDistribution: pool.spot
          ? {
              onDemandBaseCapacity: 0,
              onDemandPercentageAboveBaseCapacity: 0,
              spotAllocationStrategy: autoscaling.SpotAllocationStrategy.CAPACITY_OPTIMIZED,
            }
          : { onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 100 },
      },
      notifications: [{ topic: props.alertTopic, scalingEvents: autoscaling.ScalingEvents.ERRORS }],
    });
    const provider = new ecs.AsgCapacityProvider(scope, pool.providerId, {
      autoScalingGroup: group,
      enableManagedTerminationProtection: false,
      // ECS starts the instance when a task wants one and returns it when none runs.
      enableManagedScaling: true,
      // ECS drains the host itself on scale-in (no Lambda lifecycle hook).
      enableManagedDraining: true,
    });
    cluster.addAsgCapacityProvider(provider);
    groups.push(group);
    providers.push(provider);
    NagSuppressions.addResourceSuppressions(
      group,
      [
        {
          id: "AwsSolutions-AS3",
          reason: "Scaling errors notify the operator topic; launches and terminations are routine (scale to zero).",
        },
        {
          id: "CdkNagValidationFailure",
          reason:
            "AwsSolutions-EC26 cannot follow the mixed-instances policy into the launch template; its only block device is an encrypted gp3 volume.",
        },
      ],
      true,
    );
  }
  NagSuppressions.addResourceSuppressions(
    hostRole,
    [
      {
        id: "AwsSolutions-IAM4",
        appliesTo: ["Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore"],
        reason: "Session Manager replaces SSH on the GPU host; this is the policy AWS maintains for it.",
      },
      {
        id: "AwsSolutions-IAM5",
        appliesTo: ["Resource::*", "Action::ecs:Submit*"],
        reason:
          "ECS container-instance actions added by Cluster.addAsgCapacityProvider (ecs:Submit*, Poll, StartTelemetrySession, logs) have no resource scoping beyond what the ECS agent needs.",
      },
    ],
    true,
  );
  return { cluster, hostSecurityGroup, hostRole, groups, providers };
}
