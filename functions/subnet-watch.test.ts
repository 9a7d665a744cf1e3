// The subnet watch end to end: the pulse read from a loopback subtensor (real metadata), its history in S3 (fauxqs,
// real SDK), and ECS / Auto Scaling / SNS through the real SDK clients against a loopback endpoint that speaks their
// protocols (JSON 1.1 for ECS, Query for Auto Scaling and SNS). Burning for N days pauses the host; payments resume it.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { ECSClient } from "@aws-sdk/client-ecs";
import { CreateBucketCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import { type FauxqsServer, startFauxqs } from "fauxqs";
import { connectSubtensor, type SubtensorConnection } from "../packages/chain/src/connection.ts";
import { readSubnetPulse } from "../packages/chain/src/subnet-pulse.ts";
import { DEMO_NETUID, demoNeurons, devKey } from "../packages/chain/test/support/demo-subnet.ts";
import { LoopbackChain, type LoopbackNeuron } from "../packages/chain/test/support/loopback-chain.ts";
import { runSubnetWatch, SubnetWatchEnv, withStage } from "./subnet-watch.ts";

const DAY = 86_400_000;
const bob = devKey("//Bob");
const burning = (): LoopbackNeuron[] =>
  demoNeurons(bob.address).map((n) => ({
    ...n,
    incentive: n.uid === 0 ? 65535 : 0,
    emissionRao: 0n,
    ...(n.validatorPermit ? { weights: [[0, 65535]] as [number, number][] } : {}),
  }));

/** ECS (JSON 1.1), Auto Scaling and SNS (Query) on one loopback port; records every call. */
class LoopbackAws {
  readonly calls: { op: string; body: Record<string, unknown> }[] = [];
  trainerStartedAt = 0;
  #server: Server | undefined;
  url = "";
  async start(): Promise<this> {
    this.#server = createServer(async (req, res) => {
      let raw = "";
      for await (const chunk of req) raw += chunk;
      const target = req.headers["x-amz-target"];
      if (typeof target === "string") {
        const op = target.split(".").pop()!;
        const body = JSON.parse(raw) as Record<string, unknown>;
        this.calls.push({ op, body });
        res.setHeader("content-type", "application/x-amz-json-1.1");
        const arn = "arn:aws:ecs:us-east-1:123456789012";
        const answers: Record<string, unknown> = {
          ListClusters: { clusterArns: [`${arn}:cluster/roadwork-testnet`, `${arn}:cluster/someone-else`] },
          ListTasks: { taskArns: [`${arn}:task/roadwork-testnet/t1`, `${arn}:task/roadwork-testnet/t2`] },
          DescribeTasks: {
            tasks: [
              {
                taskArn: `${arn}:task/roadwork-testnet/t1`,
                taskDefinitionArn: `${arn}:task-definition/roadwork-testnet-trainer:3`,
                startedAt: this.trainerStartedAt / 1000,
              },
              {
                taskArn: `${arn}:task/roadwork-testnet/t2`,
                taskDefinitionArn: `${arn}:task-definition/roadwork-testnet-axon:9`,
                startedAt: (this.trainerStartedAt - 30 * DAY) / 1000,
              },
            ],
          },
          UpdateService: { service: { serviceName: "roadwork-testnet-axon" } },
        };
        res.end(JSON.stringify(answers[op] ?? {}));
        return;
      }
      const body = Object.fromEntries(new URLSearchParams(raw));
      this.calls.push({ op: String(body.Action), body });
      res.setHeader("content-type", "text/xml");
      res.end(
        body.Action === "Publish"
          ? '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m1</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>'
          : '<UpdateAutoScalingGroupResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></UpdateAutoScalingGroupResponse>',
      );
    }).listen(0, "127.0.0.1");
    await once(this.#server, "listening");
    this.url = `http://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
    return this;
  }
  take(): { op: string; body: Record<string, unknown> }[] {
    return this.calls.splice(0);
  }
  stop(): Promise<void> {
    return new Promise((r) => this.#server?.close(() => r()));
  }
}

describe("subnet watch", () => {
  let chain: LoopbackChain;
  let conn: SubtensorConnection;
  let fauxqs: FauxqsServer;
  let aws: LoopbackAws;
  let s3: S3Client;
  const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
  before(async () => {
    chain = await LoopbackChain.start({
      netuid: DEMO_NETUID,
      neurons: burning(),
      owner: { coldkey: devKey("//subnet-coldkey-0").address },
    });
    conn = await connectSubtensor({ endpoint: chain.url });
    fauxqs = await startFauxqs({ port: 0, logger: false });
    s3 = new S3Client({ endpoint: fauxqs.address, region: "us-east-1", credentials, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: "models" }));
    aws = await new LoopbackAws().start();
  });
  after(async () => {
    await conn.disconnect();
    await chain.close();
    await aws.stop();
    await fauxqs.stop();
  });

  it("pauses the host after N days of burning, flags an overdue trainer, and resumes when the subnet pays", async () => {
    let now = Date.UTC(2026, 4, 20, 12);
    aws.trainerStartedAt = now - 7 * 3_600_000; // a trainer past its 6 h
    const client = { region: "us-east-1", endpoint: aws.url, credentials };
    const env = SubnetWatchEnv.parse({
      STAGE: "testnet",
      NETUID: "323",
      CHAIN_ENDPOINT: chain.url,
      HOTKEY_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:roadwork/testnet/hotkey-AbCdEf",
      STATE_BUCKET: "models",
      STATE_KEY: "watch/pulse.json",
      ALERT_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:alerts",
      AXON_ASG: "roadwork-testnet-axon",
      AXON_CLUSTER: "roadwork-testnet",
      AXON_SERVICE: "roadwork-testnet-axon",
      PAUSE_AFTER_DAYS: "2",
      TRAINER_MAX_HOURS: "6",
      GENERATOR_MAX_HOURS: "3",
    });
    const deps = {
      env,
      s3,
      ecs: new ECSClient(client),
      autoscaling: new AutoScalingClient(client),
      sns: new SNSClient(client),
      readPulse: () => readSubnetPulse(conn.api, { netuid: DEMO_NETUID, hotkey: bob.address }),
      now: () => now,
      logger: new Logger({ serviceName: "subnet-watch-test", logLevel: "ERROR" }),
      metrics: withStage(new Metrics({ namespace: "RoadworkMiner", serviceName: "subnet-watch-test" }), "testnet"),
    };

    const first = await runSubnetWatch(deps);
    assert.equal(first.pulse.state, "burning");
    assert.equal(first.action, "none");
    assert.deepEqual(
      first.overdue.map((t) => [t.family, Math.round(t.hours)]),
      [["roadwork-testnet-trainer", 7]],
    );
    assert.deepEqual(
      aws.take().map((c) => c.op),
      ["ListClusters", "ListTasks", "DescribeTasks"],
    );
    const stored = async () =>
      JSON.parse(
        await (
          await s3.send(new GetObjectCommand({ Bucket: "models", Key: "watch/pulse.json" }))
        ).Body!.transformToString(),
      );
    assert.equal((await stored()).notPayingSince, now);

    now += 2 * DAY;
    const paused = await runSubnetWatch(deps);
    assert.equal(paused.action, "pause");
    const calls = aws.take().filter((c) => !c.op.startsWith("List") && c.op !== "DescribeTasks");
    assert.deepEqual(
      calls.map((c) => c.op),
      ["UpdateAutoScalingGroup", "UpdateService", "Publish"],
    );
    assert.equal(calls[0]?.body.DesiredCapacity, "0");
    assert.equal(calls[0]?.body.MinSize, "0");
    assert.deepEqual(calls[1]?.body, {
      cluster: "roadwork-testnet",
      service: "roadwork-testnet-axon",
      desiredCount: 0,
    });
    assert.match(String(calls[2]?.body.Subject), /axon host paused/);
    assert.match(String(calls[2]?.body.Message), /roadwork resume --stage testnet/);
    assert.equal((await stored()).paused, true);

    chain.neurons = demoNeurons(bob.address); // validators pay miners again, this one included
    now += DAY;
    const resumed = await runSubnetWatch(deps);
    assert.equal(resumed.pulse.state, "paying");
    assert.equal(resumed.action, "resume");
    const back = aws.take().filter((c) => c.op.startsWith("Update"));
    assert.equal(back[0]?.body.DesiredCapacity, "1");
    assert.equal((back[1]?.body as { desiredCount: number }).desiredCount, 1);
    assert.equal((await stored()).paused, false);
  });
});
