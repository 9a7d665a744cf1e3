// Per-stage deployment configuration: the one place where a stage's choices live (netuid, region, what the GPU host
// costs and how it is bought, who gets paged). Stacks read it through `stageConfigFor(app)`; the deploy-time knobs an
// operator may turn without editing code come from ROADWORK_* environment variables and are validated by zod.
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
  answersOk: "AnswersOk",
  errorRate: "ErrorRate",
  latencyP99: "LatencyP99",
  metagraphAgeSeconds: "MetagraphAgeSeconds",
} as const;

const instanceType = z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an EC2 instance type such as g4dn.xlarge");

export const AxonImageSchema = z.discriminatedUnion("source", [
  /** Built from containers/axon/Dockerfile by `sst deploy` (needs Docker on the deploying machine). */
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
    axonPort: z.number().int().min(1024).max(65535),
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
    /** Key of the model bundle manifest inside the models bucket; the axon hot-reloads when it changes. */
    modelBundleKey: z
      .string()
      .min(1)
      .regex(/^[^/].*$/, "an S3 key without a leading slash"),
    /** Secrets Manager secret name holding the hotkey (created by the operator, never by the stack). */
    hotkeySecretName: z.string().regex(/^[\w/+=.@-]{1,512}$/),
    alarmEmail: z.email(),
    monthlyBudgetUsd: z.number().positive().max(100_000),
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
  axonPort: 8091,
  externalIp: { mode: "create" },
  axonImage: { source: "asset" },
  modelBundleKey: "models/current.json",
  predictionLogExpiryDays: 30,
  maxAzs: 3,
  containerMemoryMiB: { gpu: 12_288, cpu: 3_072 },
} satisfies Partial<StageConfig>;

/** Defaults per stage; everything an operator must supply (the alarm email) comes from the environment. */
const STAGE_DEFAULTS: Record<StageName, Omit<StageConfig, "alarmEmail">> = {
  testnet: {
    ...SHARED_DEFAULTS,
    stage: "testnet",
    netuid: 323,
    chainEndpoint: "wss://test.finney.opentensor.ai:443",
    hotkeySecretName: "roadwork/testnet/hotkey",
    monthlyBudgetUsd: 150,
    logRetentionDays: 14,
  },
  mainnet: {
    ...SHARED_DEFAULTS,
    stage: "mainnet",
    netuid: 72,
    chainEndpoint: "wss://entrypoint-finney.opentensor.ai:443",
    hotkeySecretName: "roadwork/mainnet/hotkey",
    monthlyBudgetUsd: 250,
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
  ROADWORK_CHAIN_ENDPOINT: z.string().optional(),
});

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
  const candidate: StageConfig = {
    ...base,
    alarmEmail: overrides.ROADWORK_ALARM_EMAIL,
    purchaseOption: (overrides.ROADWORK_PURCHASE_OPTION ?? base.purchaseOption) as StageConfig["purchaseOption"],
    computeProfile: (overrides.ROADWORK_COMPUTE_PROFILE ?? base.computeProfile) as StageConfig["computeProfile"],
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
    axonImage: overrides.ROADWORK_AXON_IMAGE ? parseAxonImage(overrides.ROADWORK_AXON_IMAGE) : base.axonImage,
    chainEndpoint: overrides.ROADWORK_CHAIN_ENDPOINT ?? base.chainEndpoint,
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
