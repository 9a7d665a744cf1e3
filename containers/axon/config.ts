// The axon container's environment, validated once at startup. ECS fills it from the task definition
// (stacks/Miner.ts): plain settings as environment values, the hotkey(s) from Secrets Manager as an ECS secret.
// Every problem is reported at once, by variable name, and never with a secret's value.
import { hotkeySourceFromEnv } from "@roadwork/chain/keys";
import { z } from "zod";
import { assignPorts, type HotkeyMember, parseHotkeySecret } from "./hotkey-list.ts";

export type { HotkeyMember } from "./hotkey-list.ts";

export class AxonEnvError extends Error {
  override readonly name = "AxonEnvError";
}

const MODEL_SOURCE = /^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/\S+|hf:\/\/\S+|\/\S+|\.{1,2}\/\S+)$/;
const SS58 = /^[1-9A-HJ-NP-Za-km-z]{46,48}$/;

/** The hotkeys from ROADWORK_HOTKEY_SECRET (ECS) or the local variables, each with its port; strings are problems. */
function hotkeyMembers(
  env: Record<string, string>,
  ports: readonly number[],
  portsVariable: string,
): HotkeyMember[] | string[] {
  const local = hotkeySourceFromEnv(env);
  const raw = env.ROADWORK_HOTKEY_SECRET;
  const expected = env.ROADWORK_HOTKEY_ADDRESS;
  if (raw === undefined) {
    if (local.seedHex === undefined && local.mnemonic === undefined && local.walletName === undefined) {
      return [
        "ROADWORK_HOTKEY_SECRET: no hotkey given (on AWS it comes from the Secrets Manager secret named in " +
          "stacks/config.ts; locally set ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC or ROADWORK_WALLET_NAME)",
      ];
    }
    return assignPorts([{ source: local, port: undefined, ss58Address: expected }], ports, portsVariable);
  }
  if (Object.keys(local).length > 0) {
    return ["ROADWORK_HOTKEY_SECRET: set alone; ROADWORK_HOTKEY_SEED / _MNEMONIC / ROADWORK_WALLET_* are also set"];
  }
  const entries = parseHotkeySecret(raw);
  if (typeof entries[0] === "string") return entries as string[];
  const parsed = entries as Exclude<typeof entries, string[]>;
  if (expected !== undefined) {
    if (parsed.length > 1) {
      return ['ROADWORK_HOTKEY_ADDRESS: names one hotkey; with several, give each entry its own "ss58Address"'];
    }
    const [only] = parsed;
    if (only && only.ss58Address === undefined) only.ss58Address = expected;
  }
  return assignPorts(parsed, ports, portsVariable);
}

/** ROADWORK_PORTS (the stage's list, from the stack) or ROADWORK_PORT (one hotkey); a string is a problem. */
function listenPorts(env: Record<string, string>): { ports: number[]; variable: string } | string {
  if (env.ROADWORK_PORTS !== undefined && env.ROADWORK_PORT !== undefined) {
    return "ROADWORK_PORTS: set it or ROADWORK_PORT, not both";
  }
  if (env.ROADWORK_PORTS === undefined) {
    return { ports: [env.ROADWORK_PORT === undefined ? 8091 : Number(env.ROADWORK_PORT)], variable: "ROADWORK_PORT" };
  }
  const ports = env.ROADWORK_PORTS.split(",").map((p) => p.trim());
  if (!ports.every((p) => /^\d{1,5}$/.test(p) && Number(p) >= 1 && Number(p) <= 65535)) {
    return "ROADWORK_PORTS: must be comma-separated port numbers 1-65535, e.g. 8091,8092,8093";
  }
  if (new Set(ports).size !== ports.length) return "ROADWORK_PORTS: lists a port twice; each hotkey needs its own";
  return { ports: ports.map(Number), variable: "ROADWORK_PORTS" };
}

const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0"])
    .optional()
    .transform((v) => (v === undefined ? fallback : v === "true" || v === "1"));

const EnvSchema = z.object({
  ROADWORK_STAGE: z.enum(["testnet", "mainnet", "local"]).default("local"),
  ROADWORK_MODEL: z
    .string({ error: "is required: s3://bucket/models/current.json, hf://org/name, or a local path" })
    .regex(MODEL_SOURCE, "must be s3://bucket/key, hf://org/name[@rev], or an absolute or ./relative path"),
  ROADWORK_NETUID: z.coerce.number({ error: "is required (72 on mainnet, 323 on testnet)" }).int().min(0).max(65535),
  ROADWORK_CHAIN_ENDPOINT: z
    .string({ error: "is required, e.g. wss://entrypoint-finney.opentensor.ai:443" })
    .regex(/^wss?:\/\/\S+$/, "must be a ws:// or wss:// URL"),
  ROADWORK_EXTERNAL_IP: z.union([z.ipv4(), z.ipv6()], {
    error: "must be the public IPv4/IPv6 address validators dial (the Elastic IP)",
  }),
  ROADWORK_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** One public port per hotkey, comma-separated (the stack sets it from the stage's axonPorts). */
  ROADWORK_PORTS: z.string().optional(),
  ROADWORK_HOST: z.string().min(1).default("::"),
  /** gpu: CUDA first, CPU if CUDA cannot start; cpu: CPU only. */
  ROADWORK_DEVICE: z.enum(["gpu", "cpu"]).default("gpu"),
  ROADWORK_HOTKEY_ADDRESS: z.string().regex(SS58, "must be an ss58 address").optional(),
  ROADWORK_PREDICTIONS_BUCKET: z.string().min(3).optional(),
  ROADWORK_PREDICTIONS_PREFIX: z
    .string()
    .regex(/^[\w./-]*$/)
    .default("raw/"),
  ROADWORK_METRICS_NAMESPACE: z.string().min(1).max(255).optional(),
  ROADWORK_METRICS_INTERVAL_SECONDS: z.coerce.number().int().min(10).max(3600).default(60),
  ROADWORK_MODEL_POLL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  /** Call serve_axon at startup when the chain's record of our address differs from ROADWORK_EXTERNAL_IP:PORT. */
  ROADWORK_SERVE_AXON: flag(true),
  ROADWORK_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** The Elastic IP this axon claims once it listens with a model (stacks/Miner.ts); absent: no claim. */
  ROADWORK_EIP_ALLOCATION_ID: z
    .string()
    .regex(/^eipalloc-[0-9a-f]{8,17}$/, "must be an Elastic IP allocation id")
    .optional(),
  ROADWORK_INSTANCE_ID_FILE: z.string().min(1).default("/run/roadwork/instance-id"),
  /** How often to retry loading the model while none is available yet. */
  ROADWORK_MODEL_WAIT_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  ROADWORK_HEARTBEAT_FILE: z.string().min(1).default("/tmp/roadwork-axon.heartbeat"),
  AWS_REGION: z
    .string()
    .regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/)
    .optional(),
});

export interface AxonRuntimeConfig {
  stage: "testnet" | "mainnet" | "local";
  model: string;
  netuid: number;
  chainEndpoint: string;
  externalIp: string;
  host: string;
  executionProvider: "auto" | "cpu";
  /** Every hotkey this container serves, each on its own public port (one axon each, one shared model). */
  hotkeys: HotkeyMember[];
  region: string | undefined;
  predictions: { bucket: string; prefix: string } | undefined;
  metrics: { namespace: string; intervalMs: number } | undefined;
  /** 0 disables polling the model pointer for promotions. */
  modelPollMs: number;
  serveAxon: boolean;
  logLevel: "debug" | "info" | "warn" | "error";
  /** Claim the stage's Elastic IP once listening with a model (containers/axon/address-claim.ts). */
  addressClaim: { allocationId: string; instanceIdFile: string } | undefined;
  /** Retry interval while no model can be loaded yet. */
  modelWaitMs: number;
  /** The liveness file the ECS health check reads. */
  heartbeatFile: string;
}

/** Validates the container environment; throws one AxonEnvError listing every problem. */
export function parseAxonEnv(env: Record<string, string | undefined>): AxonRuntimeConfig {
  // Empty strings (an unset ECS value) count as absent.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ""));
  const parsed = EnvSchema.safeParse(present);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((i) => `  ${String(i.path[0] ?? "(environment)")}: ${i.message}`);
  const ports = listenPorts(present as Record<string, string>);
  let hotkeys: HotkeyMember[] = [];
  if (typeof ports === "string") problems.push(`  ${ports}`);
  else if (parsed.success || !parsed.error.issues.some((i) => i.path[0] === "ROADWORK_PORT")) {
    const members = hotkeyMembers(present as Record<string, string>, ports.ports, ports.variable);
    if (typeof members[0] === "string") problems.push(...(members as string[]).map((p) => `  ${p}`));
    else hotkeys = members as HotkeyMember[];
  }
  if (!parsed.success || problems.length > 0) {
    throw new AxonEnvError(`the axon cannot start, fix its environment:\n${problems.join("\n")}`);
  }
  const e = parsed.data;
  const needsAws =
    e.ROADWORK_MODEL.startsWith("s3://") || e.ROADWORK_PREDICTIONS_BUCKET || e.ROADWORK_METRICS_NAMESPACE;
  if (needsAws && !e.AWS_REGION) {
    throw new AxonEnvError(
      "the axon cannot start, fix its environment:\n  AWS_REGION: is required for S3 models, prediction logs and metrics",
    );
  }
  return {
    stage: e.ROADWORK_STAGE,
    model: e.ROADWORK_MODEL,
    netuid: e.ROADWORK_NETUID,
    chainEndpoint: e.ROADWORK_CHAIN_ENDPOINT,
    externalIp: e.ROADWORK_EXTERNAL_IP,
    host: e.ROADWORK_HOST,
    executionProvider: e.ROADWORK_DEVICE === "gpu" ? "auto" : "cpu",
    hotkeys,
    region: e.AWS_REGION,
    predictions: e.ROADWORK_PREDICTIONS_BUCKET
      ? { bucket: e.ROADWORK_PREDICTIONS_BUCKET, prefix: e.ROADWORK_PREDICTIONS_PREFIX }
      : undefined,
    metrics: e.ROADWORK_METRICS_NAMESPACE
      ? { namespace: e.ROADWORK_METRICS_NAMESPACE, intervalMs: e.ROADWORK_METRICS_INTERVAL_SECONDS * 1000 }
      : undefined,
    modelPollMs: e.ROADWORK_MODEL_POLL_SECONDS * 1000,
    serveAxon: e.ROADWORK_SERVE_AXON,
    logLevel: e.ROADWORK_LOG_LEVEL,
    addressClaim: e.ROADWORK_EIP_ALLOCATION_ID
      ? { allocationId: e.ROADWORK_EIP_ALLOCATION_ID, instanceIdFile: e.ROADWORK_INSTANCE_ID_FILE }
      : undefined,
    modelWaitMs: e.ROADWORK_MODEL_WAIT_SECONDS * 1000,
    heartbeatFile: e.ROADWORK_HEARTBEAT_FILE,
  };
}
