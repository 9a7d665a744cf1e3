// In-process synthesis of the real SST app (sst.config.ts's stack list) without AWS credentials or Docker:
// the project is initialised from sst.config.ts, the App is created the way `sst deploy` creates it, and the cloud
// assembly is written to a temporary folder. Used by the stack tests and by `npm run cost`.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Aspects } from "aws-cdk-lib";
import type { CloudFormationStackArtifact } from "aws-cdk-lib/cx-api";
import { AwsSolutionsChecks } from "cdk-nag";
import { App } from "sst/constructs";
import { initProject, useProject } from "sst/project.js";
import sstConfig from "../sst.config.ts";
import { provideStageConfig, resolveStageConfig, type StageConfig, type StageName } from "./config.ts";

/** Account the tests synthesize for; cdk.context.json pins its availability zones so no lookup is needed. */
export const TEST_ACCOUNT = "123456789012";

/** What an operator supplies at deploy time (docs/deploy.md): alarm email, the pinned host AMI, the pushed image tag. */
export const TEST_DEPLOY_ENV = {
  ROADWORK_ALARM_EMAIL: "operator@example.com",
  ROADWORK_HOST_AMI_ID: "ami-0123456789abcdef0",
  ROADWORK_AXON_IMAGE_TAG: "test-0123abcd",
} as const;

export interface SynthesisOptions {
  stage: StageName;
  /** ROADWORK_* deploy-time overrides (stacks/config.ts); ROADWORK_ALARM_EMAIL defaults to an example address. */
  env?: Record<string, string>;
  /** Run cdk-nag's AWS Solutions checks during synthesis. */
  nag?: boolean;
}

export interface SynthesizedStack {
  /** The SST construct id, e.g. "Miner". */
  id: string;
  stackName: string;
  templateFile: string;
  // biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is free-form JSON
  template: any;
  /** Annotations written during synthesis (cdk-nag errors and warnings among them). */
  messages: { level: string; path: string; text: string }[];
}

export interface SynthesizedStage {
  config: StageConfig;
  outdir: string;
  stacks: Map<string, SynthesizedStack>;
}

let projectReady: Promise<void> | undefined;

async function ensureProject(stage: StageName): Promise<void> {
  projectReady ??= (async () => {
    // NODE_ENV=test: SST's App skips its bootstrap-stack lookup (which needs AWS credentials) when finishing.
    process.env.NODE_ENV = "test";
    process.env.SST_TELEMETRY_DISABLED = "1";
    await initProject({ stage, root: process.cwd() });
    // The App writes generated binding types under paths.out and SST Functions build into paths.artifacts; private
    // folders keep parallel test processes from deleting each other's builds.
    const out = mkdtempSync(join(tmpdir(), "roadwork-sst-"));
    useProject().paths.out = out;
    useProject().paths.artifacts = join(out, "artifacts");
  })();
  return projectReady;
}

function readContext(root: string): Record<string, unknown> {
  const cdk = JSON.parse(readFileSync(join(root, "cdk.json"), "utf8")) as { context?: Record<string, unknown> };
  const pinned = JSON.parse(readFileSync(join(root, "cdk.context.json"), "utf8")) as Record<string, unknown>;
  return { ...cdk.context, ...pinned };
}

export async function synthesizeStage(options: SynthesisOptions): Promise<SynthesizedStage> {
  await ensureProject(options.stage);
  const project = useProject();
  const config = resolveStageConfig(options.stage, { ...TEST_DEPLOY_ENV, ...options.env });
  const outdir = mkdtempSync(join(tmpdir(), `roadwork-synth-${options.stage}-`));
  const app = new App(
    { mode: "deploy", stage: options.stage, name: project.config.name, region: config.region, account: TEST_ACCOUNT },
    {
      outdir,
      // Fingerprint the Docker context in place instead of copying it into the assembly.
      context: { ...readContext(project.paths.root), "aws:cdk:disable-asset-staging": true },
    },
  );
  provideStageConfig(app, config);
  if (options.nag) Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  await sstConfig.stacks(app);
  await app.finish();
  const assembly = app.synth();
  const stacks = new Map<string, SynthesizedStack>();
  for (const artifact of assembly.stacks as CloudFormationStackArtifact[]) {
    const id = artifact.stackName.replace(`${options.stage}-${project.config.name}-`, "");
    stacks.set(id, {
      id,
      stackName: artifact.stackName,
      templateFile: join(outdir, artifact.templateFile),
      template: artifact.template,
      messages: artifact.messages.map((m) => ({ level: m.level, path: m.id, text: String(m.entry.data) })),
    });
  }
  return { config, outdir, stacks };
}
