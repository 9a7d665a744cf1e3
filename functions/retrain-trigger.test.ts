// The retrain trigger against a loopback Step Functions endpoint speaking the real JSON 1.0 protocol (the real
// SFNClient sends to it): a request starts one execution named after it, a redelivery is success
// (ExecutionAlreadyExists), a request while another execution runs is folded, and bad input fails only its record.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { SFNClient } from "@aws-sdk/client-sfn";
import type { SQSEvent } from "aws-lambda";
import { CapturedMetrics, capturedLogger, lambdaContext } from "../packages/lifecycle/test/support/aws-emulators.ts";
import { createRetrainTriggerHandler, type RetrainTriggerDeps } from "./retrain-trigger.ts";

const ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:roadwork-testnet-retrain";

/** Executions by name with their status; StartExecution refuses a name it holds, like Step Functions. */
function fakeStepFunctions() {
  const executions = new Map<string, { status: string; input: string }>();
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"]);
      const input = JSON.parse(body);
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
        res.end(JSON.stringify(json));
      };
      if (input.stateMachineArn !== ARN) return reply(400, { __type: "StateMachineDoesNotExist", message: "no" });
      if (target === "AWSStepFunctions.ListExecutions") {
        const list = [...executions]
          .filter(([, e]) => !input.statusFilter || e.status === input.statusFilter)
          .map(([name, e]) => ({ executionArn: `${ARN}:${name}`, stateMachineArn: ARN, name, status: e.status }));
        return reply(200, { executions: list.map((e) => ({ ...e, startDate: 1 })) });
      }
      if (target === "AWSStepFunctions.StartExecution") {
        if (executions.has(input.name)) {
          return reply(400, { __type: "ExecutionAlreadyExists", message: `Execution Already Exists: '${input.name}'` });
        }
        executions.set(input.name, { status: "RUNNING", input: input.input });
        return reply(200, { executionArn: `${ARN}:${input.name}`, startDate: 1 });
      }
      reply(400, { __type: "UnknownOperationException" });
    });
  });
  return { server, executions };
}

const request = (submissionTime: number) => ({
  type: "retrain",
  reason: "reward-decay",
  submissionTime,
  currentVersion: "1.0.0",
  requestedAt: "2026-11-30T01:00:00.000Z",
  decayStartsAt: "2026-12-03T00:00:00.000Z",
});
const event = (...bodies: string[]): SQSEvent =>
  ({
    Records: bodies.map((body, i) => ({
      messageId: `m${i}`,
      body,
      eventSource: "aws:sqs",
      attributes: {},
      messageAttributes: {},
      receiptHandle: "r",
      md5OfBody: "",
      eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:retrain",
      awsRegion: "us-east-1",
    })),
  }) as unknown as SQSEvent;

describe("retrain trigger", () => {
  const fake = fakeStepFunctions();
  let deps: RetrainTriggerDeps;
  let lines: string[];

  before(async () => {
    await new Promise<void>((r) => fake.server.listen(0, "127.0.0.1", r));
    const { port } = fake.server.address() as AddressInfo;
    const captured = capturedLogger();
    lines = captured.lines;
    deps = {
      sfn: new SFNClient({
        endpoint: `http://127.0.0.1:${port}`,
        region: "us-east-1",
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
      }),
      env: { STATE_MACHINE_ARN: ARN, DATASET_MANIFEST: "datasets/latest/manifest.json", STAGE: "testnet" },
      logger: captured.logger,
      metrics: new CapturedMetrics({ namespace: "RoadworkMiner", serviceName: "retrain-trigger" }),
    };
  });
  after(() => new Promise<void>((r) => (fake.server as Server).close(() => r())));

  it("starts one execution per request, a redelivery is success, another request while it runs is folded", async () => {
    const handler = createRetrainTriggerHandler(() => deps);
    const first = await handler(event(JSON.stringify(request(1_700_000_000))), lambdaContext("retrain-trigger"));
    assert.deepEqual(first.batchItemFailures, []);
    assert.deepEqual([...fake.executions.keys()], ["decay-1700000000"]);
    const input = JSON.parse(fake.executions.get("decay-1700000000")!.input);
    assert.deepEqual(input.dataset, { manifest: "datasets/latest/manifest.json" });
    assert.equal(input.runId, "decay-1700000000");

    const again = await handler(event(JSON.stringify(request(1_700_000_000))), lambdaContext("retrain-trigger"));
    assert.deepEqual(again.batchItemFailures, []);
    assert.equal(fake.executions.size, 1);

    const other = await handler(event(JSON.stringify(request(1_800_000_000))), lambdaContext("retrain-trigger"));
    assert.deepEqual(other.batchItemFailures, []);
    assert.equal(fake.executions.size, 1, "folded, not started");
    assert.ok(lines.some((l) => l.includes("folded into the running execution")));

    fake.executions.get("decay-1700000000")!.status = "SUCCEEDED";
    const later = await handler(event(JSON.stringify(request(1_800_000_000))), lambdaContext("retrain-trigger"));
    assert.deepEqual(later.batchItemFailures, []);
    assert.ok(fake.executions.has("decay-1800000000"));
  });

  it("fails only the bad record of a batch", async () => {
    fake.executions.clear();
    const handler = createRetrainTriggerHandler(() => deps);
    const res = await handler(
      event("not json", JSON.stringify(request(1_900_000_000))),
      lambdaContext("retrain-trigger"),
    );
    assert.deepEqual(res.batchItemFailures, [{ itemIdentifier: "m0" }]);
    assert.ok(fake.executions.has("decay-1900000000"));
  });
});
