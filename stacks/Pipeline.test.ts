// The Pipeline stack synthesized inside the real app for every stage, cdk-nag on: the deployed state machine
// definition is buildDefinition's output with the stack's ARNs (the claim "the deployed definition is the one that
// ran locally"), logging + tracing, least-privilege IAM for the definition's tasks, the trigger on the retrain queue.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { before, describe, it } from "node:test";
import { buildDefinition } from "@roadwork/pipeline/definition";
import { STAGES } from "./config.ts";
import { retrainStateMachineName } from "./Pipeline.ts";
import { type SynthesizedStack, synthesizeStage } from "./testing.ts";

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

/** An intrinsic (Ref, Fn::GetAtt, Fn::ImportValue) as an opaque string, so a Fn::Join'ed JSON parses again. */
const marker = (intrinsic: Json) => `<<${Buffer.from(JSON.stringify(intrinsic)).toString("base64url")}>>`;

/** The DefinitionString rendered back to JSON, with each CloudFormation reference replaced by its marker. */
function renderDefinition(definitionString: Json): Json {
  if (typeof definitionString === "string") return JSON.parse(definitionString);
  const [sep, parts] = definitionString["Fn::Join"] as [string, Json[]];
  return JSON.parse(parts.map((p) => (typeof p === "string" ? p : marker(p))).join(sep));
}

function logicalIdOf(template: Json, type: string, test: (id: string, r: Json) => boolean = () => true): string {
  const ids = Object.entries(template.Resources as Record<string, Json>)
    .filter(([id, r]) => r.Type === type && test(id, r))
    .map(([id]) => id);
  assert.equal(ids.length, 1, `one ${type}: ${ids.join(", ")}`);
  return ids[0]!;
}

for (const stage of STAGES) {
  describe(`Pipeline stack (${stage})`, () => {
    let stack: SynthesizedStack;
    let alarmsStack: SynthesizedStack;
    const resources = (type: string): Json[] =>
      Object.values(stack.template.Resources as Record<string, Json>).filter((r) => r.Type === type);

    before(async () => {
      const synthesized = await synthesizeStage({ stage, nag: true });
      const s = synthesized.stacks.get("Pipeline");
      assert.ok(s, "sst.config.ts registers the Pipeline stack");
      stack = s;
      alarmsStack = synthesized.stacks.get("Alarms")!;
    });

    it("is cdk-nag clean", () => {
      const findings = stack.messages.filter((m) => m.level === "error" || m.text.includes("AwsSolutions-"));
      assert.deepEqual(
        findings.map((f) => `${f.path}: ${f.text.slice(0, 160)}`),
        [],
      );
    });

    it("deploys exactly buildDefinition's output, with this stack's resources", () => {
      const t = stack.template;
      const [machine] = resources("AWS::StepFunctions::StateMachine");
      assert.equal(machine.Properties.StateMachineName, retrainStateMachineName(stage));
      const deployed = renderDefinition(machine.Properties.DefinitionString);
      const step = logicalIdOf(t, "AWS::Lambda::Function", (_, r) =>
        String(r.Properties.Handler).includes("retrain-step"),
      );
      const capacity = (id: string) =>
        marker({ Ref: logicalIdOf(t, "AWS::ECS::CapacityProvider", (lid) => lid.startsWith(id)) });
      const imported = (path: string, pattern: RegExp) => {
        // Cross-stack values arrive as Fn::ImportValue of the Lifecycle/Alarms exports.
        const value = path.split(".").reduce((o: Json, k) => o[k], deployed.States) as string;
        const intrinsic = JSON.parse(Buffer.from(value.slice(2, -2), "base64url").toString());
        assert.match(JSON.stringify(intrinsic["Fn::ImportValue"]), pattern);
        return value;
      };
      const expected = buildDefinition({
        stepFunctionArn: marker({ "Fn::GetAtt": [step, "Arn"] }),
        cluster: marker({ "Fn::GetAtt": [logicalIdOf(t, "AWS::ECS::Cluster"), "Arn"] }),
        taskDefinition: marker({ Ref: logicalIdOf(t, "AWS::ECS::TaskDefinition") }),
        containerName: "trainer",
        spotCapacity: [{ CapacityProvider: capacity("TrainerSpotCapacity"), Weight: 1 }],
        onDemandCapacity: [{ CapacityProvider: capacity("TrainerOnDemandCapacity"), Weight: 1 }],
        publishQueueUrl: imported("Publish.Parameters.QueueUrl", /Lifecycle/),
        alertTopicArn: imported("NotifyFailure.Parameters.TopicArn", /Alarms/),
      });
      assert.deepEqual(deployed, JSON.parse(JSON.stringify(expected)));
      // The container the definition overrides is the task definition's.
      const [task] = resources("AWS::ECS::TaskDefinition");
      assert.equal(task.Properties.ContainerDefinitions[0].Name, "trainer");
      assert.deepEqual(task.Properties.ContainerDefinitions[0].ResourceRequirements, [{ Type: "GPU", Value: "1" }]);
    });

    it("logs every execution and traces it; tags the models bucket for the CLI", () => {
      const [machine] = resources("AWS::StepFunctions::StateMachine");
      assert.equal(machine.Properties.LoggingConfiguration.Level, "ALL");
      assert.equal(machine.Properties.TracingConfiguration.Enabled, true);
      assert.ok(machine.Properties.Tags.some((tag: Json) => tag.Key === "roadwork:models-bucket"));
    });

    it("grants the state machine only what its tasks use", () => {
      const policies = resources("AWS::IAM::Policy").filter((p) =>
        JSON.stringify(p.Properties.Roles).includes("RetrainStateMachineRole"),
      );
      const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Json[]);
      const actions = statements.flatMap((s) => [s.Action].flat()).sort();
      for (const a of [
        "ecs:RunTask",
        "ecs:StopTask",
        "ecs:DescribeTasks",
        "iam:PassRole",
        "lambda:InvokeFunction",
        "sns:Publish",
        "sqs:SendMessage",
        "events:PutRule",
      ]) {
        assert.ok(actions.includes(a), `${a} in ${actions.join(", ")}`);
      }
      assert.ok(!actions.some((a) => a === "*" || a.endsWith(":*")), actions.join(", "));
      const runTask = statements.find((s) => [s.Action].flat().includes("ecs:RunTask"));
      assert.ok(runTask.Condition.ArnEquals["ecs:cluster"], "RunTask limited to the trainer cluster");
      assert.notEqual(runTask.Resource, "*");
    });

    it("consumes the retrain queue with partial batch failures and starts executions of this machine only", () => {
      const [mapping] = resources("AWS::Lambda::EventSourceMapping");
      assert.deepEqual(mapping.Properties.FunctionResponseTypes, ["ReportBatchItemFailures"]);
      assert.match(JSON.stringify(mapping.Properties.EventSourceArn), /RetrainRequests/);
      const trigger = resources("AWS::Lambda::Function").find((f) =>
        String(f.Properties.Handler).includes("retrain-trigger"),
      );
      assert.ok(trigger.Properties.Environment.Variables.STATE_MACHINE_ARN.Ref);
      const start = resources("AWS::IAM::Policy")
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[])
        .find((s) => [s.Action].flat().includes("states:StartExecution"));
      assert.ok(start?.Resource.Ref, "StartExecution on the one state machine");
    });

    it("checks drift daily and rolls back on the axon's answer-rate and error alarms", () => {
      const fnId = (handler: string) =>
        logicalIdOf(stack.template, "AWS::Lambda::Function", (_, r) => String(r.Properties.Handler).includes(handler));
      const rules = resources("AWS::Events::Rule");
      const exportRule = rules.find((r) => r.Properties.ScheduleExpression === "cron(15 0 * * ? *)");
      assert.ok(exportRule, "daily capture export schedule");
      assert.deepEqual(exportRule.Properties.Targets[0].Arn, { "Fn::GetAtt": [fnId("capture-export"), "Arn"] });
      const drift = rules.find((r) => r.Properties.ScheduleExpression === "cron(0 2 * * ? *)");
      assert.ok(drift, "daily drift schedule");
      assert.deepEqual(drift.Properties.Targets[0].Arn, { "Fn::GetAtt": [fnId("drift-check"), "Arn"] });
      assert.ok(drift.Properties.Targets[0].DeadLetterConfig, "undeliverable runs go to a dead-letter queue");

      const rollback = rules.find((r) => r.Properties.EventPattern?.source?.[0] === "aws.cloudwatch");
      assert.ok(rollback, "alarm state change rule");
      assert.deepEqual(rollback.Properties.EventPattern["detail-type"], ["CloudWatch Alarm State Change"]);
      assert.deepEqual(rollback.Properties.EventPattern.detail.state, { value: ["ALARM"] });
      assert.deepEqual(rollback.Properties.Targets[0].Arn, { "Fn::GetAtt": [fnId("rollback-on-alarm"), "Arn"] });
      // The names in the pattern are the Alarms stack's own alarm names (no cross-stack reference needed).
      const alarmNames = Object.values(alarmsStack.template.Resources as Record<string, Json>)
        .filter((r) => r.Type === "AWS::CloudWatch::Alarm")
        .map((r) => r.Properties.AlarmName);
      const watched = rollback.Properties.EventPattern.detail.alarmName as string[];
      assert.equal(watched.length, 2);
      for (const name of watched) assert.ok(alarmNames.includes(name), `${name} in ${alarmNames.join(", ")}`);
      assert.ok(
        watched.some((n) => n.endsWith("-error-rate")) && watched.some((n) => n.endsWith("-no-successful-answers")),
      );

      const env = (handler: string) =>
        resources("AWS::Lambda::Function").find((f) => String(f.Properties.Handler).includes(handler)).Properties
          .Environment.Variables;
      assert.equal(env("rollback-on-alarm").ROLLBACK_WINDOW_MINUTES, "120");
      assert.equal(env("rollback-on-alarm").POINTER_KEY, "models/current.json");
      assert.equal(env("drift-check").PREDICTIONS_PREFIX, "raw/");
      assert.equal(env("capture-export").MINING_BUDGET, stage === "mainnet" ? "200" : "50");
      assert.ok(env("drift-check").RETRAIN_QUEUE_URL["Fn::ImportValue"], "the Lifecycle stack's retrain queue");
      const puts = resources("AWS::IAM::Policy")
        .filter((p) => JSON.stringify(p.Properties.Roles).includes("RollbackOnAlarm"))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[])
        .filter((st) => [st.Action].flat().includes("s3:PutObject"));
      assert.match(JSON.stringify(puts), /models\/current\.json/);
    });

    it("builds the trainer image from containers/trainer as an asset of the deploy", () => {
      const [task] = resources("AWS::ECS::TaskDefinition");
      assert.match(JSON.stringify(task.Properties.ContainerDefinitions[0].Image), /container-assets/);
    });

    it("keeps the GPU hosts at zero until a task asks for one", () => {
      const groups = resources("AWS::AutoScaling::AutoScalingGroup");
      assert.equal(groups.length, 2);
      for (const g of groups) assert.equal(g.Properties.MinSize, "0");
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
}
