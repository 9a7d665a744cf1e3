// The Synth stack synthesized inside the real app (testnet), cdk-nag on: queue + DLQ feeding the Lambda with partial
// batch failures, IAM scoped to the configured model ARNs, the weekly hard-case rule, the Cosmos GPU service at zero
// with queue-depth scaling and the NGC key as a secret, and the three alarms.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { before, describe, it } from "node:test";
import { type SynthesizedStack, synthesizeStage } from "./testing.ts";

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

describe("Synth stack", () => {
  let stack: SynthesizedStack;
  const resources = (type: string): Json[] =>
    Object.values(stack.template.Resources as Record<string, Json>).filter((r) => r.Type === type);

  before(async () => {
    const stage = await synthesizeStage({ stage: "testnet", nag: true });
    const s = stage.stacks.get("Synth");
    assert.ok(s, "sst.config.ts registers the Synth stack");
    stack = s;
  });

  it("is cdk-nag clean", () => {
    const findings = stack.messages.filter((m) => m.level === "error" || m.text.includes("AwsSolutions-"));
    assert.deepEqual(
      findings.map((f) => `${f.path}: ${f.text.slice(0, 160)}`),
      [],
    );
  });

  it("lets the Lambda invoke only the configured Bedrock models", () => {
    const statements = [
      ...resources("AWS::IAM::Policy").map((p) => p.Properties.PolicyDocument),
      ...resources("AWS::IAM::Role").flatMap((r) => (r.Properties.Policies ?? []).map((p: Json) => p.PolicyDocument)),
    ].flatMap((d) => d.Statement as Json[]);
    const bedrock = statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith("bedrock:")));
    const actions = bedrock.flatMap((s) => [s.Action].flat());
    assert.ok(
      actions.includes("bedrock:InvokeModel") && actions.includes("bedrock:GetFoundationModel"),
      JSON.stringify(actions),
    );
    for (const s of bedrock) {
      const arns = JSON.stringify(s.Resource);
      assert.doesNotMatch(arns, /foundation-model\/\*/);
      assert.match(arns, /foundation-model\/stability\.sd3-5-large-v1:0/);
    }
  });

  it("feeds the Lambda from a queue with a DLQ, reports partial failures, and asks weekly for hard cases", () => {
    const mappings = resources("AWS::Lambda::EventSourceMapping");
    assert.equal(mappings.length, 2);
    assert.ok(mappings.every((m) => m.Properties.FunctionResponseTypes?.includes("ReportBatchItemFailures")));
    const queues = resources("AWS::SQS::Queue");
    assert.equal(queues.filter((q) => q.Properties.RedrivePolicy?.maxReceiveCount === 3).length, 2);
    const [rule] = resources("AWS::Events::Rule");
    assert.equal(rule.Properties.ScheduleExpression, "cron(0 3 ? * MON *)");
    assert.match(JSON.stringify(rule.Properties.Targets[0].InputTransformer), /hard-cases/);
  });

  it("runs the Cosmos NIM on a ≥ 48 GB GPU spot host that scales to zero, with the NGC key as a secret", () => {
    const [service] = resources("AWS::ECS::Service");
    assert.equal(service.Properties.DesiredCount, 0);
    const [task] = resources("AWS::ECS::TaskDefinition");
    const container = task.Properties.ContainerDefinitions[0];
    assert.deepEqual(container.ResourceRequirements, [{ Type: "GPU", Value: "1" }]);
    assert.equal(container.Secrets[0].Name, "NGC_API_KEY");
    assert.match(container.Image, /^nvcr\.io\/nim\/nvidia\/cosmos/);
    const [asg] = resources("AWS::AutoScaling::AutoScalingGroup");
    assert.equal(asg.Properties.MinSize, "0");
    const overrides = asg.Properties.MixedInstancesPolicy.LaunchTemplate.Overrides;
    assert.deepEqual(
      overrides.map((o: Json) => o.InstanceType),
      ["g6e.xlarge"],
    );
    assert.equal(asg.Properties.MixedInstancesPolicy.InstancesDistribution.OnDemandPercentageAboveBaseCapacity, 0);
    const [target] = resources("AWS::ApplicationAutoScaling::ScalableTarget");
    assert.equal(target.Properties.MinCapacity, 0);
  });

  it("alarms on budget stops, dead letters and the rejection rate", () => {
    const names = resources("AWS::CloudWatch::Alarm").map((a) => a.Properties.AlarmName);
    for (const n of ["synth-budget", "synth-dead-letters", "synth-rejection-rate"]) {
      assert.ok(names.includes(`roadwork-testnet-${n}`), `${n} in ${names.join(", ")}`);
    }
  });

  it("cfn-lint finds no error in the template", () => {
    const run = spawnSync("cfn-lint", ["--format", "parseable", "--", stack.templateFile], { encoding: "utf8" });
    if (run.error) assert.fail(`cfn-lint did not run (${run.error.message}): pip install cfn-lint`);
    assert.deepEqual(
      run.stdout.split("\n").filter((l) => /:E\d{4}:/.test(l)),
      [],
    );
  });
});
