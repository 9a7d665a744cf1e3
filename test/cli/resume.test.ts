// `roadwork resume` speaks to Auto Scaling (Query protocol, XML) and ECS (JSON 1.1) through the real AWS SDK clients,
// here against a loopback endpoint that checks the signed requests and records what was asked.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { command as resume } from "../../packages/cli/src/commands/resume.ts";

describe("roadwork resume", () => {
  let server: Server;
  let url: string;
  const calls: { target: string; body: Record<string, unknown> }[] = [];
  before(async () => {
    process.env.AWS_ACCESS_KEY_ID = "AKIDEXAMPLE";
    process.env.AWS_SECRET_ACCESS_KEY = "secret";
    server = createServer(async (req, res) => {
      let body = "";
      for await (const chunk of req) body += chunk;
      assert.match(String(req.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\//);
      const target = req.headers["x-amz-target"];
      if (typeof target === "string") {
        calls.push({ target, body: JSON.parse(body) });
        res.setHeader("content-type", "application/x-amz-json-1.1");
        res.end(JSON.stringify({ service: { serviceName: "roadwork-testnet-axon", desiredCount: 1 } }));
        return;
      }
      const params = Object.fromEntries(new URLSearchParams(body));
      calls.push({ target: String(params.Action), body: params });
      res.setHeader("content-type", "text/xml");
      res.end(
        '<UpdateAutoScalingGroupResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></UpdateAutoScalingGroupResponse>',
      );
    }).listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it("scales the stage's group and service back to one", async () => {
    const log = console.log;
    const out: string[] = [];
    console.log = (...a: unknown[]) => out.push(a.join(" "));
    try {
      assert.equal(await resume.run(["--stage", "testnet", "--endpoint", url, "--region", "us-east-1"]), 0);
    } finally {
      console.log = log;
    }
    assert.deepEqual(calls[0], {
      target: "UpdateAutoScalingGroup",
      body: {
        Action: "UpdateAutoScalingGroup",
        Version: "2011-01-01",
        AutoScalingGroupName: "roadwork-testnet-axon",
        MinSize: "1",
        MaxSize: "1",
        DesiredCapacity: "1",
      },
    });
    assert.equal(calls[1]?.target, "AmazonEC2ContainerServiceV20141113.UpdateService");
    assert.deepEqual(calls[1]?.body, {
      cluster: "roadwork-testnet",
      service: "roadwork-testnet-axon",
      desiredCount: 1,
    });
    assert.match(out.join("\n"), /resumed testnet: roadwork-testnet-axon desired 1/);
  });

  it("a wrong stage is a usage error", async () => {
    await assert.rejects(resume.run(["--stage", "prod"]), /--stage must be testnet or mainnet/);
  });
});
