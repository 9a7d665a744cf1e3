// Per-stage deployment configuration: the one place where a stage's choices live (netuid, region, what the GPU host
// costs and how it is bought, who gets paged). Stacks read it through `stageConfigFor(app)`; the deploy-time knobs an
// operator may turn without editing code come from ROADWORK_* environment variables and are validated by zod.
import { readFileSync } from "node:fs";
import { z } from "zod";

export const STAGES = ["testnet", "mainnet"] as const;
export type StageName = (typeof STAGES)[number];

/**
 * Instance types the axon can run on, in order of preference; each carries one NVIDIA GPU and 4 vCPU / 16 GiB.
 * The T4 (g4dn) is the cheapest and fast enough: validators reward correctness within 9 s, not speed. The L4 (g6)
 * and A10G (g5) are fallbacks when spot has no g4dn capacity.
 */
export const GPU_INSTANCE_TYPES = ["g4dn.xlarge", "g6.xlarge", "g5.xlarge"] as const;
/** CPU-only profile for cheap testnet runs: onnxruntime CPU execution provider, no CUDA. */
export const CPU_INSTANCE_TYPES = ["c7i.large", "c6i.large", "m7i.large"] as const;

/** CloudWatch custom metrics the axon publishes (dimension `Stage`); the alarms stack watches these names. */
export const MINER_METRICS = {
  namespace: "RoadworkMiner",
  dimension: "Stage",
  /** With several hotkeys, each axon's AnswersOk also comes with this dimension (its port) beside `Stage`. */
  axonPortDimension: "AxonPort",
  answersOk: "AnswersOk",
  errorRate: "ErrorRate",
  latencyP99: "LatencyP99",
  metagraphAgeSeconds: "MetagraphAgeSeconds",
  /** Challenges from permitted validators per period (the axon counts them per validator; this is the sum). */
  validatorChallenges: "ValidatorChallenges",
  /** Subnet pulse from the chain watch: 1 while the state holds, 0 otherwise (dimension Stage). */
  subnetPaying: "SubnetPaying",
  subnetBurning: "SubnetBurning",
  /** GPU tasks (trainer, generator) running past their expected time, from the chain watch's sweep. */
  gpuTasksOverdue: "GpuTasksOverdue",
} as const;

/** Cost-allocation tag every resource of a stage carries; the stage's budget filters on it. */
export const STAGE_TAG_KEY = "roadwork:stage";

/** The axon container's limit (containers/axon/hotkey-list.ts); 2 rules per port stay under a group's 60 per family. */
export const MAX_HOTKEYS_PER_HOST = 32;

const instanceType = z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an EC2 instance type such as g4dn.xlarge");

export const AxonImageSchema = z.discriminatedUnion("source", [
  /**
   * The default: an image `npm run image -- --stage <stage>` built and pushed to the stage's own ECR repository
   * (stacks/Storage.ts, with a lifecycle rule), referenced by tag (ROADWORK_AXON_IMAGE_TAG).
   */
  z.object({ source: z.literal("project"), tag: z.string().regex(/^[\w][\w.-]{0,127}$/, "an image tag") }),
  /**
   * Built by `sst deploy` as a CDK asset (ROADWORK_AXON_IMAGE=asset). It lands in CDK's shared bootstrap repository,
   * which has no lifecycle rule: every change keeps a multi-GB image forever. For quick experiments only.
   */
  z.object({ source: z.literal("asset") }),
  /** A prebuilt image in an ECR repository of this account (e.g. pushed by CI); no Docker needed to deploy. */
  z.object({
    source: z.literal("ecr"),
    repositoryName: z.string().min(2),
    tag: z.string().regex(/^[\w][\w.-]{0,127}$/, "an image tag"),
  }),
]);
export type AxonImage = z.infer<typeof AxonImageSchema>;

export const StageConfigSchema = z
  .object({
    stage: z.enum(STAGES),
    netuid: z.number().int().min(0).max(65535),
    region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, "an AWS region such as us-east-1"),
    /** Subtensor websocket endpoint the metagraph watcher and serve_axon use. */
    chainEndpoint: z.string().regex(/^wss?:\/\/\S+$/, "a ws:// or wss:// URL"),
    /** `gpu`: one NVIDIA GPU, CUDA execution provider. `cpu`: a small CPU instance, for cheap testnet runs. */
    computeProfile: z.enum(["gpu", "cpu"]),
    /** Spot across several instance types (capacity-optimized) or one on-demand instance. */
    purchaseOption: z.enum(["spot", "on-demand"]),
    gpuInstanceTypes: z.array(instanceType).min(1),
    cpuInstanceTypes: z.array(instanceType).min(1),
    rootVolumeGiB: z.number().int().min(30).max(500),
    /**
     * One public port per hotkey the host serves (the axon container's hotkey secret lists as many hotkeys): the
     * security group opens exactly these, and each hotkey is announced on chain with its own.
     */
    axonPorts: z
      .array(z.number().int().min(1024).max(65535))
      .min(1)
      .max(MAX_HOTKEYS_PER_HOST)
      .refine(
        (ports) => new Set(ports).size === ports.length,
        "each hotkey needs its own port: a port is listed twice",
      ),
    /**
     * `create`: the stack allocates an Elastic IP (kept on stack removal, since validators know it).
     * `existing`: reuse an allocation the operator already owns (e.g. the one registered with serve_axon).
     */
    externalIp: z.discriminatedUnion("mode", [
      z.object({ mode: z.literal("create") }),
      z.object({
        mode: z.literal("existing"),
        allocationId: z.string().regex(/^eipalloc-[0-9a-f]{8,17}$/, "an allocation id such as eipalloc-0123abcd"),
        publicIp: z.ipv4(),
      }),
    ]),
    axonImage: AxonImageSchema,
    /**
     * The host AMI, pinned: an explicit ECS-optimized AMI id per compute profile, rolled on purpose (a new id here, then
     * `sst deploy`), never re-resolved behind the operator's back. Set in stacks/host-amis.json or ROADWORK_HOST_AMI_ID.
     */
    hostAmiId: z.string().regex(/^ami-[0-9a-f]{8,17}$/, "an AMI id such as ami-0123456789abcdef0"),
    /** Key of the model bundle manifest inside the models bucket; the axon hot-reloads when it changes. */
    modelBundleKey: z
      .string()
      .min(1)
      .regex(/^[^/].*$/, "an S3 key without a leading slash"),
    /** Secrets Manager secret name holding the hotkey (created by the operator, never by the stack). */
    hotkeySecretName: z.string().regex(/^[\w/+=.@-]{1,512}$/),
    alarmEmail: z.email(),
    monthlyBudgetUsd: z.number().positive().max(100_000),
    /** Account-wide AWS/Billing EstimatedCharges alarm threshold (us-east-1 only; billing alerts must be enabled). */
    billingAlarmUsd: z.number().positive().max(1_000_000),
    /** Expected maximum run time of GPU tasks; longer runs raise the runaway alarm. */
    gpuTaskMaxHours: z.object({ trainer: z.number().positive().max(72), generator: z.number().positive().max(72) }),
    /** No challenge from a permitted validator for this long raises the silence alarm (testnet validators are rare). */
    validatorSilenceHours: z.number().int().min(1).max(72),
    /**
     * Opt-in: scale the host to zero after this many days in which the subnet paid nobody or burned (spec §4.7);
     * `roadwork resume --stage …`, or the watch seeing payments again, brings it back. Absent: never pause.
     */
    pauseAfterDays: z.number().positive().max(90).optional(),
    /** Optional lifecycle steps: a model card on Hugging Face and NATIX registration never block serving. */
    publishModelCard: z.boolean(),
    natixRegistration: z.boolean(),
    logRetentionDays: z.union([z.literal(7), z.literal(14), z.literal(30), z.literal(60), z.literal(90)]),
    /** Raw prediction logs are evidence for hard-case mining, not an archive: they expire after this many days. */
    predictionLogExpiryDays: z.number().int().min(1).max(365),
    /** Availability zones the public subnets span; more zones give spot more pools to choose from. */
    maxAzs: z.number().int().min(1).max(6),
    /** Soft memory reservation of the axon container per compute profile (the CPU hosts have 4 GiB). */
    containerMemoryMiB: z.object({ gpu: z.number().int().min(512), cpu: z.number().int().min(512) }),
  })
  .strict();
export type StageConfig = z.infer<typeof StageConfigSchema>;

/**
 * What both stages share (resolveStageConfig parses into fresh objects, so sharing is safe); the stages differ in
 * netuid, chain, secret names, budget and log retention.
 */
const SHARED_DEFAULTS = {
  region: "us-east-1",
  computeProfile: "gpu",
  purchaseOption: "spot",
  gpuInstanceTypes: [...GPU_INSTANCE_TYPES],
  cpuInstanceTypes: [...CPU_INSTANCE_TYPES],
  rootVolumeGiB: 50,
  axonPorts: [8091],
  externalIp: { mode: "create" },
  modelBundleKey: "models/current.json",
  predictionLogExpiryDays: 30,
  maxAzs: 3,
  containerMemoryMiB: { gpu: 12_288, cpu: 3_072 },
  gpuTaskMaxHours: { trainer: 6, generator: 3 },
  publishModelCard: true,
  // NATIX removed register.sh in May 2026: registration is an explicit opt-in.
  natixRegistration: false,
} satisfies Partial<StageConfig>;

/** Defaults per stage; everything an operator must supply (the alarm email) comes from the environment. */
const STAGE_DEFAULTS: Record<StageName, Omit<StageConfig, "alarmEmail" | "hostAmiId" | "axonImage">> = {
  testnet: {
    ...SHARED_DEFAULTS,
    stage: "testnet",
    netuid: 323,
    chainEndpoint: "wss://test.finney.opentensor.ai:443",
    hotkeySecretName: "roadwork/testnet/hotkey",
    // Testnet validators are few and test nothing that needs a GPU: the CPU host costs ~1/4 (npm run cost).
    computeProfile: "cpu",
    monthlyBudgetUsd: 60,
    billingAlarmUsd: 400,
    validatorSilenceHours: 12,
    logRetentionDays: 14,
  },
  mainnet: {
    ...SHARED_DEFAULTS,
    stage: "mainnet",
    netuid: 72,
    chainEndpoint: "wss://entrypoint-finney.opentensor.ai:443",
    hotkeySecretName: "roadwork/mainnet/hotkey",
    monthlyBudgetUsd: 250,
    billingAlarmUsd: 400,
    validatorSilenceHours: 2,
    logRetentionDays: 30,
  },
};

/** Deploy-time overrides, e.g. `ROADWORK_PURCHASE_OPTION=on-demand npx sst deploy --stage mainnet`. */
const EnvOverridesSchema = z.object({
  ROADWORK_ALARM_EMAIL: z.string().optional(),
  ROADWORK_PURCHASE_OPTION: z.string().optional(),
  ROADWORK_COMPUTE_PROFILE: z.string().optional(),
  ROADWORK_MONTHLY_BUDGET_USD: z.string().optional(),
  ROADWORK_EIP_ALLOCATION_ID: z.string().optional(),
  ROADWORK_EIP_PUBLIC_IP: z.string().optional(),
  ROADWORK_AXON_IMAGE: z.string().optional(),
  ROADWORK_AXON_IMAGE_TAG: z.string().optional(),
  ROADWORK_AXON_PORTS: z.string().optional(),
  ROADWORK_CHAIN_ENDPOINT: z.string().optional(),
  ROADWORK_HOST_AMI_ID: z.string().optional(),
  ROADWORK_BILLING_ALARM_USD: z.string().optional(),
  ROADWORK_PAUSE_AFTER_DAYS: z.string().optional(),
  ROADWORK_VALIDATOR_SILENCE_HOURS: z.string().optional(),
  ROADWORK_NATIX_REGISTRATION: z.enum(["on", "off"]).optional(),
  ROADWORK_MODEL_CARD: z.enum(["on", "off"]).optional(),
});

/** The pinned host AMIs (stacks/host-amis.json): stage -> compute profile -> AMI id. */
export const HOST_AMIS_FILE = new URL("./host-amis.json", import.meta.url);

function pinnedAmi(stage: StageName, profile: "gpu" | "cpu"): string | undefined {
  let table: Record<string, Record<string, string>> = {};
  try {
    table = JSON.parse(readFileSync(HOST_AMIS_FILE, "utf8")) as typeof table;
  } catch {
    return undefined;
  }
  return table[stage]?.[profile];
}

/** The SSM parameter whose value is the current recommended ECS AMI of a profile (what to pin, and roll to). */
export function recommendedAmiParameter(profile: "gpu" | "cpu"): string {
  return `/aws/service/ecs/optimized-ami/amazon-linux-2023/${profile === "gpu" ? "gpu/" : ""}recommended/image_id`;
}

export class StageConfigError extends Error {
  override name = "StageConfigError";
}

export function isStageName(stage: string): stage is StageName {
  return (STAGES as readonly string[]).includes(stage);
}

/** The AWS region a stage deploys to (sst.config.ts needs it before the full configuration is resolved). */
export function regionOf(stage: StageName): string {
  return STAGE_DEFAULTS[stage].region;
}

/** Parses `repository:tag` (ECR repository of this account) for ROADWORK_AXON_IMAGE. */
function parseAxonImage(value: string): AxonImage {
  if (value === "asset") return { source: "asset" };
  const at = value.lastIndexOf(":");
  if (at <= 0) throw new StageConfigError(`ROADWORK_AXON_IMAGE must be "<ecr-repository>:<tag>", got "${value}"`);
  return { source: "ecr", repositoryName: value.slice(0, at), tag: value.slice(at + 1) };
}

/**
 * The validated configuration of a stage. `env` carries the operator's deploy-time choices; the alarm email is
 * required because a miner nobody hears about when it stops answering loses its rewards silently.
 */
export function resolveStageConfig(stage: string, env: Record<string, string | undefined> = process.env): StageConfig {
  if (!isStageName(stage)) {
    throw new StageConfigError(
      `Unknown stage "${stage}". Deploy with --stage testnet (netuid 323) or --stage mainnet (netuid 72), ` +
        `or add the stage to STAGE_DEFAULTS in stacks/config.ts.`,
    );
  }
  const overrides = EnvOverridesSchema.parse(env);
  if (!overrides.ROADWORK_ALARM_EMAIL) {
    throw new StageConfigError(
      "Set ROADWORK_ALARM_EMAIL to the address that receives alarms and budget notifications, " +
        "e.g. ROADWORK_ALARM_EMAIL=you@example.com npx sst deploy --stage testnet",
    );
  }
  const base = STAGE_DEFAULTS[stage];
  const computeProfile = (overrides.ROADWORK_COMPUTE_PROFILE ?? base.computeProfile) as StageConfig["computeProfile"];
  const hostAmiId =
    overrides.ROADWORK_HOST_AMI_ID ??
    (computeProfile === "gpu" || computeProfile === "cpu" ? pinnedAmi(stage, computeProfile) : undefined);
  if (!hostAmiId) {
    const param = recommendedAmiParameter(computeProfile === "cpu" ? "cpu" : "gpu");
    throw new StageConfigError(
      `No host AMI pinned for ${stage}/${computeProfile}. Look up the current ECS-optimized AMI:\n` +
        `  aws ssm get-parameter --region ${base.region} --name ${param} --query Parameter.Value --output text\n` +
        `and put it in stacks/host-amis.json as {"${stage}": {"${computeProfile}": "ami-…"}} (commit it), or set ROADWORK_HOST_AMI_ID. ` +
        "The AMI changes only when you change it (docs/deploy.md, 'Rolling the AMI').",
    );
  }
  const axonImage: AxonImage | undefined = overrides.ROADWORK_AXON_IMAGE
    ? parseAxonImage(overrides.ROADWORK_AXON_IMAGE)
    : overrides.ROADWORK_AXON_IMAGE_TAG
      ? { source: "project", tag: overrides.ROADWORK_AXON_IMAGE_TAG }
      : undefined;
  if (!axonImage) {
    throw new StageConfigError(
      `No axon image for ${stage}. Build and push it to the stage's own ECR repository first:\n` +
        `  npm run image -- --stage ${stage}        # prints ROADWORK_AXON_IMAGE_TAG=<tag>\n` +
        `then deploy with ROADWORK_AXON_IMAGE_TAG=<tag> (docs/deploy.md, 'First deploy').`,
    );
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const candidate: StageConfig = {
    ...base,
    hostAmiId,
    billingAlarmUsd: num(overrides.ROADWORK_BILLING_ALARM_USD) ?? base.billingAlarmUsd,
    validatorSilenceHours: num(overrides.ROADWORK_VALIDATOR_SILENCE_HOURS) ?? base.validatorSilenceHours,
    ...(overrides.ROADWORK_PAUSE_AFTER_DAYS !== undefined
      ? { pauseAfterDays: Number(overrides.ROADWORK_PAUSE_AFTER_DAYS) }
      : {}),
    natixRegistration: overrides.ROADWORK_NATIX_REGISTRATION
      ? overrides.ROADWORK_NATIX_REGISTRATION === "on"
      : base.natixRegistration,
    publishModelCard: overrides.ROADWORK_MODEL_CARD ? overrides.ROADWORK_MODEL_CARD === "on" : base.publishModelCard,
    alarmEmail: overrides.ROADWORK_ALARM_EMAIL,
    purchaseOption: (overrides.ROADWORK_PURCHASE_OPTION ?? base.purchaseOption) as StageConfig["purchaseOption"],
    computeProfile,
    monthlyBudgetUsd:
      overrides.ROADWORK_MONTHLY_BUDGET_USD === undefined
        ? base.monthlyBudgetUsd
        : Number(overrides.ROADWORK_MONTHLY_BUDGET_USD),
    externalIp: overrides.ROADWORK_EIP_ALLOCATION_ID
      ? {
          mode: "existing",
          allocationId: overrides.ROADWORK_EIP_ALLOCATION_ID,
          publicIp: overrides.ROADWORK_EIP_PUBLIC_IP ?? "",
        }
      : base.externalIp,
    axonImage,
    chainEndpoint: overrides.ROADWORK_CHAIN_ENDPOINT ?? base.chainEndpoint,
    // "8091,8092,8093": one port per hotkey; anything not a number fails the schema below with the field's name.
    axonPorts: overrides.ROADWORK_AXON_PORTS?.split(",").map((p) => Number(p.trim())) ?? base.axonPorts,
  };
  const parsed = StageConfigSchema.safeParse(candidate);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`).join("\n");
    throw new StageConfigError(`Invalid configuration for stage "${stage}":\n${problems}`);
  }
  return parsed.data;
}

/** Instance types the miner's Auto Scaling group may launch, in priority order. */
export function instanceTypesOf(config: StageConfig): readonly string[] {
  return config.computeProfile === "gpu" ? config.gpuInstanceTypes : config.cpuInstanceTypes;
}

/** Names shared between stacks without a construct dependency (CloudWatch dimensions, dashboards). */
export function resourceNames(config: StageConfig) {
  return {
    autoScalingGroup: `roadwork-${config.stage}-axon`,
    cluster: `roadwork-${config.stage}`,
    budget: `roadwork-${config.stage}-monthly`,
    dashboard: `roadwork-${config.stage}`,
    axonLogGroup: `/roadwork/${config.stage}/axon`,
    axonService: `roadwork-${config.stage}-axon`,
    axonRepository: `roadwork-${config.stage}-axon`,
    /** Where the chain watch keeps the pulse history (inside the models bucket). */
    pulseStateKey: "watch/pulse.json",
  } as const;
}

const provided = new WeakMap<object, StageConfig>();

/** Pins the configuration an app's stacks will read (sst.config.ts and tests call this before adding stacks). */
export function provideStageConfig(app: { stage: string }, config: StageConfig): void {
  if (config.stage !== app.stage) {
    throw new StageConfigError(`stage config "${config.stage}" given to app of stage "${app.stage}"`);
  }
  provided.set(app, config);
}

/** The configuration of the app a stack belongs to; resolved from the environment when nobody provided one. */
export function stageConfigFor(app: { stage: string }): StageConfig {
  let config = provided.get(app);
  if (!config) {
    config = resolveStageConfig(app.stage);
    provided.set(app, config);
  }
  return config;
}
