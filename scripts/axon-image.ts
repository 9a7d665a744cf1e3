// `npm run image -- --stage <stage>`: builds the axon image (containers/axon/Dockerfile, the stage's compute profile)
// and pushes it to the stage's own ECR repository (stacks/Storage.ts: lifecycle rule, immutable tags). Prints the tag
// to deploy with: ROADWORK_AXON_IMAGE_TAG=<tag> npx sst deploy --stage <stage>. On a fresh account the repository does
// not exist yet: the Storage stack is deployed first (it owns the repository). Needs Docker and the AWS CLI.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    stage: { type: "string" },
    profile: { type: "string" },
    region: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
const usage = "usage: npm run image -- --stage testnet|mainnet [--profile gpu|cpu] [--region us-east-1]";
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const stage = values.stage;
if (stage !== "testnet" && stage !== "mainnet") {
  console.error(`${usage}\n--stage must be testnet or mainnet`);
  process.exit(2);
}
// The stage's default profile (stacks/config.ts): CPU on testnet, GPU on mainnet; ROADWORK_COMPUTE_PROFILE overrides.
const profile = values.profile ?? process.env.ROADWORK_COMPUTE_PROFILE ?? (stage === "testnet" ? "cpu" : "gpu");
if (profile !== "gpu" && profile !== "cpu") {
  console.error("--profile must be gpu or cpu");
  process.exit(2);
}
const region = values.region ?? process.env.AWS_REGION ?? "us-east-1";
const repository = `roadwork-${stage}-axon`;

function run(cmd: string, args: string[], options: { input?: string; quiet?: boolean } = {}): string {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    input: options.input,
    // Progress (docker build/push) goes to stderr; stdout carries only the final tag line.
    stdio: [options.input === undefined ? "inherit" : "pipe", options.quiet ? "pipe" : 2, "inherit"],
  });
  if (r.error) throw new Error(`${cmd} is not available: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(" ")} failed (exit ${r.status})`);
  return (r.stdout ?? "").trim();
}

// Immutable tags: the commit, plus a timestamp when the working tree has uncommitted changes.
const sha = run("git", ["rev-parse", "--short=12", "HEAD"], { quiet: true });
const dirty = run(
  "git",
  ["status", "--porcelain", "--", "packages", "containers/axon", "package.json", "package-lock.json"],
  {
    quiet: true,
  },
);
const tag = dirty ? `${sha}-${new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)}` : sha;

const account = run("aws", ["sts", "get-caller-identity", "--query", "Account", "--output", "text"], { quiet: true });
const registry = `${account}.dkr.ecr.${region}.amazonaws.com`;
const exists =
  spawnSync("aws", ["ecr", "describe-repositories", "--region", region, "--repository-names", repository], {
    stdio: "ignore",
  }).status === 0;
if (!exists) {
  console.error(`${repository} does not exist yet: deploying the ${stage} Storage stack, which owns it...`);
  const r = spawnSync("npx", ["sst", "deploy", "--stage", stage, "Storage"], {
    stdio: "inherit",
    env: { ...process.env, ROADWORK_AXON_IMAGE_TAG: tag },
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const image = `${registry}/${repository}:${tag}`;
console.error(`building ${image} (target ${profile})...`);
run("docker", [
  "build",
  "-f",
  "containers/axon/Dockerfile",
  "--target",
  profile,
  "--platform",
  "linux/amd64",
  "-t",
  image,
  ".",
]);
const password = run("aws", ["ecr", "get-login-password", "--region", region], { quiet: true });
run("docker", ["login", "--username", "AWS", "--password-stdin", registry], { input: password, quiet: true });
run("docker", ["push", image]);
const size = run("docker", ["image", "inspect", image, "--format", "{{.Size}}"], { quiet: true });
console.error(`pushed ${image} (${(Number(size) / 1e9).toFixed(2)} GB uncompressed)`);
console.log(`ROADWORK_AXON_IMAGE_TAG=${tag}`);
