// Monthly cost of a synthesized stage, read from its CloudFormation templates (what will actually be deployed) and
// priced from a dated table in the repository (stacks/pricing/). Usage that a template cannot say (GB stored, log
// volume, Lambda invocations) comes from the table's stated assumptions. Resource types the table does not price
// are listed, never silently counted as free.
import { readFileSync } from "node:fs";
import { z } from "zod";

const PriceTableSchema = z.object({
  region: z.string(),
  currency: z.literal("USD"),
  retrieved: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  sources: z.record(z.string(), z.string()),
  hoursPerMonth: z.number().positive(),
  ec2: z.record(
    z.string(),
    z.object({ onDemandHourly: z.number().positive(), spotHourly: z.number().positive(), gpu: z.string().nullable() }),
  ),
  ebs: z.object({ gp3PerGbMonth: z.number(), gp2PerGbMonth: z.number() }),
  publicIpv4PerHour: z.number(),
  s3: z.object({ standardPerGbMonth: z.number(), putPer1000: z.number(), getPer1000: z.number() }),
  cloudwatch: z.object({
    alarmStandardPerMonth: z.number(),
    customMetricPerMonth: z.number(),
    dashboardPerMonth: z.number(),
    logsIngestPerGb: z.number(),
    logsStoragePerGbMonth: z.number(),
    putMetricDataPer1000: z.number(),
  }),
  lambda: z.object({ requestsPerMillion: z.number(), perGbSecond: z.number() }),
  secretsManager: z.object({ perSecretMonth: z.number(), per10000Calls: z.number() }),
  ecr: z.object({ storagePerGbMonth: z.number() }),
  dataTransferOutPerGb: z.number(),
  sqs: z.object({ perMillionRequests: z.number() }),
  assumptions: z.object({
    sqsRequestsPerQueueMonth: z.number(),
    s3StorageGbByBucket: z.record(z.string(), z.number()),
    s3StorageGbOtherBucket: z.number(),
    s3PutsPerMonth: z.number(),
    s3GetsPerMonth: z.number(),
    logsIngestGbPerLogGroupMonth: z.number(),
    metricsPublishIntervalSeconds: z.number().positive(),
    lambdaInvocationsPerFunctionMonth: z.number(),
    lambdaAverageDurationSeconds: z.number(),
    secretsManagerCallsPerMonth: z.number(),
    axonImageGb: z.object({ gpu: z.number(), cpu: z.number() }),
    dataTransferOutGbMonth: z.number(),
  }),
});
export type PriceTable = z.infer<typeof PriceTableSchema>;

export const PRICE_TABLE_FILE = new URL("../pricing/aws-prices-2026-11.json", import.meta.url);

export function loadPriceTable(file: URL | string = PRICE_TABLE_FILE): PriceTable {
  return PriceTableSchema.parse(JSON.parse(readFileSync(file, "utf8")));
}

export interface CostLine {
  item: string;
  detail: string;
  monthlyUsd: number;
}

export interface StageEstimate {
  label: string;
  purchaseOption: "spot" | "on-demand";
  computeProfile: "gpu" | "cpu";
  instanceTypes: string[];
  instances: number;
  /** Hourly price assumed for the host; spot is the mean over the allowed types (capacity-optimized picks by capacity). */
  hostHourlyUsd: number;
  hostHourlyRangeUsd: [number, number];
  lines: CostLine[];
  monthlyUsd: number;
  /** The total if the host were the cheapest / the dearest type the group may launch. */
  monthlyRangeUsd: [number, number];
  /** CloudFormation types present that the table does not price (should be empty; review if not). */
  unpriced: string[];
  priceTable: { retrieved: string; region: string };
}

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Resource = { Type: string; Properties?: any };

/** Types that cost nothing by themselves (or only through usage priced on another line). */
const FREE_TYPES = new Set([
  "AWS::AutoScaling::LifecycleHook",
  "AWS::CDK::Metadata",
  "AWS::EC2::EIPAssociation",
  "AWS::EC2::InternetGateway",
  "AWS::EC2::LaunchTemplate",
  "AWS::EC2::Route",
  "AWS::EC2::RouteTable",
  "AWS::EC2::SecurityGroup",
  "AWS::EC2::SecurityGroupEgress",
  "AWS::EC2::SecurityGroupIngress",
  "AWS::EC2::Subnet",
  "AWS::EC2::SubnetRouteTableAssociation",
  "AWS::EC2::VPC",
  "AWS::EC2::VPCGatewayAttachment",
  "AWS::ECS::CapacityProvider",
  "AWS::ECS::Cluster",
  "AWS::ECS::ClusterCapacityProviderAssociations",
  "AWS::ECS::Service",
  "AWS::ECS::TaskDefinition",
  "AWS::IAM::InstanceProfile",
  "AWS::IAM::Policy",
  "AWS::IAM::Role",
  "AWS::Lambda::Permission",
  "AWS::S3::BucketPolicy",
  "AWS::SNS::Subscription",
  "AWS::SNS::Topic",
  "AWS::SNS::TopicPolicy",
  "AWS::SQS::QueuePolicy",
  "AWS::Events::Rule",
  "AWS::Lambda::EventInvokeConfig",
  // Storage of the images it holds is the "ECR image" line.
  "AWS::ECR::Repository",
  "AWS::Lambda::EventSourceMapping",
  "AWS::SSM::Parameter",
  // The first two budgets of an account are free; a stage has one.
  "AWS::Budgets::Budget",
  // Synth stack: scaling definitions, the S3 gateway endpoint and Cloud Map services cost nothing by themselves.
  "AWS::ApplicationAutoScaling::ScalableTarget",
  "AWS::ApplicationAutoScaling::ScalingPolicy",
  "AWS::EC2::VPCEndpoint",
  "AWS::ServiceDiscovery::Service",
  // Pipeline stack: a standard state machine costs per transition (~12 a retrain, well under a cent), not per month.
  "AWS::StepFunctions::StateMachine",
]);

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Estimates one stage from its templates (all stacks of the app). */
export function estimateStage(
  label: string,
  templates: { Resources?: Record<string, Resource> }[],
  prices: PriceTable,
) {
  const resources = templates.flatMap((t) => Object.entries(t.Resources ?? {}));
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
  const H = prices.hoursPerMonth;
  const A = prices.assumptions;
  const lines: CostLine[] = [];
  const handled = new Set<string>();
  const add = (type: string | string[], item: string, detail: string, monthlyUsd: number) => {
    for (const t of [type].flat()) handled.add(t);
    lines.push({ item, detail, monthlyUsd: round2(monthlyUsd) });
  };

  // --- the host: Auto Scaling group with a mixed-instances policy (stacks/Miner.ts) ---
  // Groups that scale to zero (the Cosmos GPU host) hold no standing instance; their use is priced per image.
  const groups = ofType("AWS::AutoScaling::AutoScalingGroup").filter(([, r]) => Number(r.Properties.MinSize) > 0);
  if (groups.length !== 1) throw new Error(`${label}: expected one Auto Scaling group, found ${groups.length}`);
  const group = groups[0]![1].Properties;
  const instances = Number(group.DesiredCapacity ?? group.MinSize);
  const policy = group.MixedInstancesPolicy;
  const instanceTypes: string[] = policy
    ? policy.LaunchTemplate.Overrides.map((o: { InstanceType: string }) => o.InstanceType)
    : [];
  if (instanceTypes.length === 0) throw new Error(`${label}: the Auto Scaling group has no instance type overrides`);
  const distribution = policy.InstancesDistribution ?? {};
  const onDemandShare = Number(distribution.OnDemandPercentageAboveBaseCapacity ?? 100);
  const onDemandBase = Number(distribution.OnDemandBaseCapacity ?? 0);
  const purchaseOption = onDemandBase === 0 && onDemandShare === 0 ? "spot" : "on-demand";
  const priced = instanceTypes.map((t) => {
    const p = prices.ec2[t];
    if (!p) throw new Error(`${label}: no price for ${t} in the price table (${prices.retrieved})`);
    return { type: t, ...p };
  });
  const computeProfile = priced.some((p) => p.gpu) ? "gpu" : "cpu";
  let hostHourly: number;
  let range: [number, number];
  let detail: string;
  if (purchaseOption === "spot") {
    const spot = priced.map((p) => p.spotHourly);
    range = [Math.min(...spot), Math.max(...spot)];
    // Capacity first, priority second: the group launches whichever allowed type has spare spot capacity, so the
    // first type is not a given. The estimate uses the mean and reports the whole range.
    hostHourly = spot.reduce((a, b) => a + b, 0) / spot.length;
    detail = `${instances} x spot ${distribution.SpotAllocationStrategy ?? ""} (${priced
      .map((p) => `${p.type} $${p.spotHourly}`)
      .join(", ")}/h), mean $${hostHourly.toFixed(3)}/h, range $${range[0]}-${range[1]}/h`;
  } else {
    // Prioritized on-demand: the first type launches unless it has no capacity.
    hostHourly = priced[0]!.onDemandHourly;
    range = [hostHourly, Math.max(...priced.map((p) => p.onDemandHourly))];
    detail = `${instances} x on-demand ${instanceTypes[0]} at $${hostHourly}/h (fallbacks up to $${range[1]}/h)`;
  }
  add("AWS::AutoScaling::AutoScalingGroup", "EC2 host", detail, instances * hostHourly * H);

  const hostTemplate = JSON.stringify(policy.LaunchTemplate.LaunchTemplateSpecification ?? {});
  const templatesWithVolumes = ofType("AWS::EC2::LaunchTemplate")
    .filter(([id]) => hostTemplate.includes(`"${id}"`))
    .flatMap(([, r]) => r.Properties.LaunchTemplateData.BlockDeviceMappings ?? []);
  for (const mapping of templatesWithVolumes) {
    const size = Number(mapping.Ebs?.VolumeSize ?? 0);
    const type = String(mapping.Ebs?.VolumeType ?? "gp2");
    const perGb = type === "gp3" ? prices.ebs.gp3PerGbMonth : prices.ebs.gp2PerGbMonth;
    add("AWS::EC2::LaunchTemplate", "EBS root volume", `${instances} x ${size} GiB ${type}`, instances * size * perGb);
  }

  // A Cloud Map private namespace is a Route 53 private hosted zone: $0.50 per month.
  const zones = ofType("AWS::ServiceDiscovery::PrivateDnsNamespace").length;
  if (zones > 0)
    add("AWS::ServiceDiscovery::PrivateDnsNamespace", "Route 53 private zone", `${zones} x $0.50`, zones * 0.5);

  // Each running host holds one public IPv4 (the Elastic IP replaces the launch-time address); an EIP also bills
  // while no host holds it.
  const eips = ofType("AWS::EC2::EIP").length;
  const addresses = Math.max(eips, instances);
  add(
    "AWS::EC2::EIP",
    "Public IPv4",
    `${addresses} address(es) x ${H} h x $${prices.publicIpv4PerHour}`,
    addresses * H * prices.publicIpv4PerHour,
  );

  // --- storage ---
  const buckets = ofType("AWS::S3::Bucket");
  const bucketGb = buckets.map(([id]) => {
    const known = Object.entries(A.s3StorageGbByBucket).find(([prefix]) => id.startsWith(prefix));
    return known ? known[1] : A.s3StorageGbOtherBucket;
  });
  const gb = bucketGb.reduce((a, b) => a + b, 0);
  add(
    "AWS::S3::Bucket",
    "S3",
    `${buckets.length} buckets, ~${gb} GB stored, ${A.s3PutsPerMonth} PUT + ${A.s3GetsPerMonth} GET/month`,
    gb * prices.s3.standardPerGbMonth +
      (A.s3PutsPerMonth / 1000) * prices.s3.putPer1000 +
      (A.s3GetsPerMonth / 1000) * prices.s3.getPer1000,
  );

  // --- the axon image in the stage's repository: the lifecycle rule keeps 5 images that share their base layers ---
  const imageGb = A.axonImageGb[computeProfile];
  const imageStoredGb = round2(imageGb * 1.25);
  lines.push({
    item: "ECR image",
    detail: `~${imageGb} GB axon image (${computeProfile}); ~${imageStoredGb} GB stored for the last 5 (shared layers)`,
    monthlyUsd: round2(imageStoredGb * prices.ecr.storagePerGbMonth),
  });

  // --- observability ---
  const alarms = ofType("AWS::CloudWatch::Alarm");
  add(
    "AWS::CloudWatch::Alarm",
    "CloudWatch alarms",
    `${alarms.length} standard-resolution alarms`,
    alarms.length * prices.cloudwatch.alarmStandardPerMonth,
  );
  const customMetrics = new Set(
    alarms
      .map(([, r]) => r.Properties)
      .filter((p) => p.Namespace && !String(p.Namespace).startsWith("AWS/"))
      .map((p) => `${p.Namespace}/${p.MetricName}/${JSON.stringify(p.Dimensions ?? [])}`),
  );
  const puts = ((30 * 24 * 3600) / A.metricsPublishIntervalSeconds) * (customMetrics.size > 0 ? 1 : 0);
  lines.push({
    item: "CloudWatch custom metrics",
    detail: `${customMetrics.size} metrics, ${puts} PutMetricData calls/month`,
    monthlyUsd: round2(
      customMetrics.size * prices.cloudwatch.customMetricPerMonth +
        (puts / 1000) * prices.cloudwatch.putMetricDataPer1000,
    ),
  });
  const dashboards = ofType("AWS::CloudWatch::Dashboard").length;
  add(
    "AWS::CloudWatch::Dashboard",
    "CloudWatch dashboards",
    `${dashboards} dashboard(s)`,
    dashboards * prices.cloudwatch.dashboardPerMonth,
  );
  const logGroups = ofType("AWS::Logs::LogGroup");
  const ingestGb = logGroups.length * A.logsIngestGbPerLogGroupMonth;
  const storedGb = logGroups
    .map(([, r]) => (A.logsIngestGbPerLogGroupMonth * Number(r.Properties.RetentionInDays ?? 30)) / 30)
    .reduce((a, b) => a + b, 0);
  add(
    "AWS::Logs::LogGroup",
    "CloudWatch Logs",
    `${logGroups.length} log group(s), ~${ingestGb} GB ingested, ~${round2(storedGb)} GB retained`,
    ingestGb * prices.cloudwatch.logsIngestPerGb + storedGb * prices.cloudwatch.logsStoragePerGbMonth,
  );

  // --- Lambda: SST's per-stack handler runs only during deploys; other functions at the assumed volume ---
  const functions = ofType("AWS::Lambda::Function");
  const working = functions.filter(([id]) => !id.startsWith("CustomResourceHandler"));
  const lambdaUsd = working
    .map(([, r]) => {
      const gbSeconds =
        (Number(r.Properties.MemorySize ?? 128) / 1024) *
        A.lambdaAverageDurationSeconds *
        A.lambdaInvocationsPerFunctionMonth;
      return (
        gbSeconds * prices.lambda.perGbSecond +
        (A.lambdaInvocationsPerFunctionMonth / 1e6) * prices.lambda.requestsPerMillion
      );
    })
    .reduce((a, b) => a + b, 0);
  add(
    "AWS::Lambda::Function",
    "Lambda",
    `${working.length} function(s) x ${A.lambdaInvocationsPerFunctionMonth} invocations x ${A.lambdaAverageDurationSeconds} s; ${functions.length - working.length} deploy-time handler(s)`,
    lambdaUsd,
  );

  // --- secrets: created by a stack, or referenced by name (the hotkey, the Hugging Face token) ---
  const referenced = new Set(
    [...JSON.stringify(templates).matchAll(/:secret:([\w/+=.@]+(?:-[\w/+=.@]+)*?)(?:-\?{6}|-\*|[":*])/g)].map(
      (m) => m[1],
    ),
  );
  const secrets = ofType("AWS::SecretsManager::Secret").length + referenced.size;
  add(
    "AWS::SecretsManager::Secret",
    "Secrets Manager",
    `${secrets} secret(s)${referenced.size ? ` (${[...referenced].sort().join(", ")})` : ""}`,
    secrets * prices.secretsManager.perSecretMonth +
      (A.secretsManagerCallsPerMonth / 10_000) * prices.secretsManager.per10000Calls,
  );

  // Event source mappings long-poll their queue around the clock; dead-letter queues see almost no requests.
  const queueIds = new Set(ofType("AWS::SQS::Queue").map(([id]) => id));
  const queues = queueIds.size;
  const polled = ofType("AWS::Lambda::EventSourceMapping").filter(([, r]) => {
    const arn = r.Properties.EventSourceArn;
    return queueIds.has(arn?.["Fn::GetAtt"]?.[0]) || /:sqs:/.test(JSON.stringify(arn ?? ""));
  }).length;
  add(
    "AWS::SQS::Queue",
    "SQS",
    `${queues} queue(s), ${polled} polled by Lambda x ${A.sqsRequestsPerQueueMonth} requests`,
    ((polled * A.sqsRequestsPerQueueMonth) / 1e6) * prices.sqs.perMillionRequests,
  );

  lines.push({
    item: "Data transfer out",
    detail: `~${A.dataTransferOutGbMonth} GB (answers, chain traffic)`,
    monthlyUsd: round2(A.dataTransferOutGbMonth * prices.dataTransferOutPerGb),
  });

  const unpriced = [...new Set(resources.map(([, r]) => r.Type))]
    .filter((t) => !handled.has(t) && !FREE_TYPES.has(t) && !t.startsWith("Custom::"))
    .sort();
  return {
    label,
    purchaseOption,
    computeProfile,
    instanceTypes,
    instances,
    hostHourlyUsd: round2(hostHourly * 1000) / 1000,
    hostHourlyRangeUsd: range,
    lines,
    monthlyUsd: round2(lines.reduce((a, l) => a + l.monthlyUsd, 0)),
    monthlyRangeUsd: [
      round2(lines.reduce((a, l) => a + l.monthlyUsd, 0) + instances * (range[0] - hostHourly) * H),
      round2(lines.reduce((a, l) => a + l.monthlyUsd, 0) + instances * (range[1] - hostHourly) * H),
    ] as [number, number],
    unpriced,
    priceTable: { retrieved: prices.retrieved, region: prices.region },
  } satisfies StageEstimate;
}

/** A fixed-width table of several estimates, one column per stage. */
export function renderTable(estimates: StageEstimate[]): string {
  const items = [...new Set(estimates.flatMap((e) => e.lines.map((l) => l.item)))];
  const width = Math.max(26, ...items.map((i) => i.length + 2));
  const col = Math.max(12, ...estimates.map((e) => e.label.length + 2));
  const row = (name: string, cells: string[]) => name.padEnd(width) + cells.map((c) => c.padStart(col)).join("");
  const out = [
    row(
      "monthly USD",
      estimates.map((e) => e.label),
    ),
  ];
  out.push("-".repeat(width + col * estimates.length));
  for (const item of items) {
    out.push(
      row(
        item,
        estimates.map((e) => {
          const line = e.lines.find((l) => l.item === item);
          return line ? line.monthlyUsd.toFixed(2) : "-";
        }),
      ),
    );
  }
  out.push("-".repeat(width + col * estimates.length));
  out.push(
    row(
      "total",
      estimates.map((e) => e.monthlyUsd.toFixed(2)),
    ),
  );
  out.push(
    row(
      "range (host type)",
      estimates.map((e) => `${e.monthlyRangeUsd[0].toFixed(0)}-${e.monthlyRangeUsd[1].toFixed(0)}`),
    ),
  );
  out.push(
    row(
      "host $/h",
      estimates.map((e) => e.hostHourlyUsd.toFixed(3)),
    ),
  );
  out.push(
    row(
      "host $/h range",
      estimates.map((e) => `${e.hostHourlyRangeUsd[0]}-${e.hostHourlyRangeUsd[1]}`),
    ),
  );
  return out.join("\n");
}
