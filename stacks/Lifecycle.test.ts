// Synthesizes the real app (stacks/testing.ts) for testnet with cdk-nag and checks the lifecycle stack's wiring:
// runtimes, the daily schedule, the publish queue's DLQ and partial-batch reporting, least-privilege grants, and that
// secrets reach the functions as ARNs only.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { Match, Template } from "aws-cdk-lib/assertions";
import { PUBLISH_MAX_RECEIVE_COUNT } from "./Lifecycle.ts";
import { type SynthesizedStack, synthesizeStage } from "./testing.ts";

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

let lifecycle: SynthesizedStack;
let template: Template;
const resources = (type: string): [string, Json][] =>
  Object.entries(lifecycle.template.Resources as Record<string, Json>).filter(([, r]) => r.Type === type);
const fnNamed = (prefix: string): [string, Json] => {
  const found = resources("AWS::Lambda::Function").find(([id]) => id.startsWith(prefix));
  assert.ok(found, `no ${prefix} function`);
  return found;
};
const policiesOf = (fnId: string): Json[] => {
  const roleRef = fnNamed(fnId)[1].Properties.Role["Fn::GetAtt"][0];
  return resources("AWS::IAM::Policy")
    .filter(([, p]) => p.Properties.Roles.some((r: Json) => r.Ref === roleRef))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
};

before(async () => {
  const stage = await synthesizeStage({ stage: "testnet", nag: true });
  const found = stage.stacks.get("Lifecycle");
  assert.ok(found, "sst.config.ts does not include the Lifecycle stack");
  lifecycle = found;
  template = Template.fromJSON(lifecycle.template);
});

describe("Lifecycle stack", () => {
  test("both functions: nodejs22.x, active tracing, handlers from functions/", () => {
    for (const [prefix, handler] of [
      ["DecayCheck", "functions/decay-check.handler"],
      ["PublishModel", "functions/publish-model.handler"],
    ]) {
      const [, fn] = fnNamed(prefix!);
      assert.equal(fn.Properties.Runtime, "nodejs22.x");
      assert.equal(fn.Properties.Handler, handler);
      assert.deepEqual(fn.Properties.TracingConfig, { Mode: "Active" });
      assert.equal(fn.Properties.Environment.Variables.POWERTOOLS_METRICS_NAMESPACE, "RoadworkMiner");
    }
    // No reservation: new accounts have 10 concurrent executions and Lambda refuses one below that floor.
    assert.equal(fnNamed("PublishModel")[1].Properties.ReservedConcurrentExecutions, undefined);
  });

  test("logs are kept for the stage's retention (testnet: 14 days)", () => {
    const groups = resources("AWS::Logs::LogGroup");
    assert.ok(groups.length >= 3, "decay check, publisher, subnet watch (and custom-resource handlers)");
    for (const [, g] of groups) assert.equal(g.Properties.RetentionInDays, 14);
  });

  test("EventBridge runs the decay check daily at 01:00 UTC with retries", () => {
    const [decayId] = fnNamed("DecayCheck");
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "cron(0 1 * * ? *)",
      State: "ENABLED",
      Targets: [
        Match.objectLike({
          Arn: { "Fn::GetAtt": [decayId, "Arn"] },
          RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 2 }),
        }),
      ],
    });
  });

  test("publish queue: encrypted, TLS-only, DLQ after 5 receives, batch of 1 with partial failure reports", () => {
    const queues = resources("AWS::SQS::Queue");
    assert.equal(queues.length, 5);
    for (const [, q] of queues) assert.equal(q.Properties.SqsManagedSseEnabled, true);
    const [publishId, publish] = queues.find(([id]) => id.startsWith("PublishRequests"))!;
    const [dlqId] = queues.find(([id]) => id.startsWith("PublishDeadLetters"))!;
    assert.deepEqual(publish.Properties.RedrivePolicy, {
      deadLetterTargetArn: { "Fn::GetAtt": [dlqId, "Arn"] },
      maxReceiveCount: PUBLISH_MAX_RECEIVE_COUNT,
    });
    assert.ok(publish.Properties.VisibilityTimeout >= 600);
    const policies = resources("AWS::SQS::QueuePolicy");
    assert.equal(policies.length, 5);
    for (const [, p] of policies) {
      assert.ok(
        p.Properties.PolicyDocument.Statement.some(
          (s: Json) => s.Effect === "Deny" && s.Condition?.Bool?.["aws:SecureTransport"] === "false",
        ),
      );
    }
    const [publishFnId] = fnNamed("PublishModel");
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [publishId, "Arn"] },
      FunctionName: { Ref: publishFnId },
      BatchSize: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  test("secrets reach the functions as Secrets Manager ARNs, never as values", () => {
    for (const [, fn] of resources("AWS::Lambda::Function")) {
      const vars = (fn.Properties.Environment?.Variables ?? {}) as Record<string, Json>;
      for (const [name, value] of Object.entries(vars)) {
        const text = JSON.stringify(value);
        assert.ok(!/hf_[A-Za-z0-9]{8,}|0x[0-9a-f]{64}/.test(text), `${name} looks like a secret value`);
        if (/TOKEN|MNEMONIC|SEED|HOTKEY|SECRET/i.test(name) && !/^(ALERT_TOPIC_ARN)$/.test(name)) {
          assert.match(name, /_SECRET_ARN$/, `${name} should carry an ARN`);
          assert.match(text, /:secret:roadwork\/testnet\/(hotkey|hf-token)/);
        }
      }
    }
  });

  test("least privilege: only the publisher and the watch read secrets, each function writes only its own keys", () => {
    const decay = policiesOf("DecayCheck");
    assert.ok(!JSON.stringify(decay).includes("secretsmanager:"));
    const decayPuts = decay.filter((s) => [s.Action].flat().includes("s3:PutObject"));
    assert.match(JSON.stringify(decayPuts.map((s) => s.Resource)), /models\/alerts-\*\.json/);
    assert.ok(!JSON.stringify(decayPuts).includes("models/*"));

    const publish = policiesOf("PublishModel");
    const secretStatements = publish.filter((s) => JSON.stringify(s.Action).includes("secretsmanager:GetSecretValue"));
    const secretResources = secretStatements.flatMap((s) => [s.Resource].flat()).map((r) => JSON.stringify(r));
    assert.equal(secretResources.length, 2);
    assert.ok(secretResources.some((r) => r.includes(":secret:roadwork/testnet/hotkey-??????")));
    assert.ok(secretResources.some((r) => r.includes(":secret:roadwork/testnet/hf-token-??????")));
    const puts = publish.filter((s) => [s.Action].flat().some((a: string) => a.startsWith("s3:PutObject")));
    const putResources = JSON.stringify(puts.map((s) => s.Resource));
    assert.match(putResources, /models\/publish\/\*/);
    assert.match(putResources, /models\/submission\.json/);
    assert.ok(!/"\/\*"|models\/\*"/.test(putResources), "publisher may not write the whole bucket");
  });

  test("a dead-lettered publish and a failing decay check alarm to the operator topic", () => {
    const alarms = resources("AWS::CloudWatch::Alarm");
    assert.deepEqual(alarms.map(([, a]) => a.Properties.AlarmName).sort(), [
      "roadwork-testnet-decay-check-errors",
      "roadwork-testnet-publish-dead-letters",
      "roadwork-testnet-retrain-dead-letters",
      "roadwork-testnet-schedule-dead-letters",
    ]);
    for (const [, a] of alarms) assert.equal(a.Properties.AlarmActions.length, 1);
  });

  test("cdk-nag AwsSolutions: no unsuppressed finding", () => {
    const findings = lifecycle.messages.filter(
      (m) => (m.level === "error" || m.level === "warning") && /AwsSolutions-|CdkNag/.test(m.text),
    );
    assert.deepEqual(findings, []);
  });
});
