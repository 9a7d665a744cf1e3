// The Bedrock fake against the real SDK: HTTP/2 cleartext, SigV4 checked, Converse scripted, routes pluggable.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  BedrockRuntimeClient,
  ConverseCommand,
  InvokeModelCommand,
  ThrottlingException,
} from "@aws-sdk/client-bedrock-runtime";
import sharp from "sharp";
import { answers, FakeBedrock, jsonResponse } from "./fake-bedrock.ts";

const MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0";

describe("fake Bedrock", () => {
  let fake: FakeBedrock;
  let client: BedrockRuntimeClient;
  let jpeg: Buffer;

  before(async () => {
    fake = await FakeBedrock.start();
    client = new BedrockRuntimeClient({ ...fake.clientConfig(), maxAttempts: 1 });
    jpeg = await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 200, g: 120, b: 20 } } })
      .jpeg()
      .toBuffer();
  });
  after(async () => {
    client.destroy();
    await fake.close();
  });

  const converse = (c: BedrockRuntimeClient = client, bytes: Uint8Array = jpeg) =>
    c.send(
      new ConverseCommand({
        modelId: MODEL,
        system: [{ text: "answer in JSON" }],
        messages: [
          { role: "user", content: [{ text: "Is there roadwork?" }, { image: { format: "jpeg", source: { bytes } } }] },
        ],
        inferenceConfig: { maxTokens: 200, temperature: 0 },
      }),
    );

  it("answers Converse over HTTP/2 with the scripted label and records the image it received", async () => {
    fake.converse.reply(answers.label(1, 0.93, "cones and a barrier"));
    const out = await converse();
    const text = out.output?.message?.content?.[0]?.text ?? "";
    assert.deepEqual(JSON.parse(text), { roadwork: true, confidence: 0.93, reason: "cones and a barrier" });
    assert.equal(out.stopReason, "end_turn");
    const call = fake.converse.calls.at(-1)!;
    assert.equal(call.modelId, MODEL);
    assert.equal(call.images.length, 1);
    assert.ok(call.images[0]!.bytes.equals(jpeg));
    assert.match(call.text, /answer in JSON\nIs there roadwork\?/);
    const seen = fake.requests.at(-1)!;
    assert.equal(seen.httpVersion, "2.0");
    assert.equal(seen.signingService, "bedrock");
    assert.equal(seen.status, 200);
  });

  it("throttles with 429 and x-amzn-ErrorType ThrottlingException, which the SDK turns into its exception", async () => {
    fake.converse.reply(answers.throttled());
    const error = await converse().then(
      () => assert.fail("expected a throttling error"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ThrottlingException, String(error));
    assert.equal(error.$metadata.httpStatusCode, 429);
  });

  it("serves refusals, filtered content and malformed answers as text", async () => {
    fake.converse.reply(answers.refusal(), answers.contentFiltered(), answers.malformed());
    assert.match((await converse()).output?.message?.content?.[0]?.text ?? "", /can't help/);
    const filtered = await converse();
    assert.equal(filtered.stopReason, "content_filtered");
    const malformed = (await converse()).output?.message?.content?.[0]?.text ?? "";
    assert.throws(() => JSON.parse(malformed));
  });

  it("rejects requests signed with the wrong secret and images that are not what they claim", async () => {
    const wrong = new BedrockRuntimeClient({
      ...fake.clientConfig(),
      credentials: { accessKeyId: fake.credentials.accessKeyId, secretAccessKey: "not-the-secret" },
      maxAttempts: 1,
    });
    await assert.rejects(converse(wrong), (e: Error) => e.name === "InvalidSignatureException");
    wrong.destroy();
    await assert.rejects(converse(client, Buffer.from("not a jpeg")), (e: Error) => e.name === "ValidationException");
    const unsigned = await fetch(`${fake.url}/model/${encodeURIComponent(MODEL)}/converse`, {
      method: "POST",
      body: "{}",
    });
    assert.equal(unsigned.status, 403);
  });

  it("is found through AWS_ENDPOINT_URL_BEDROCK_RUNTIME and takes pluggable routes", async () => {
    fake.route("POST", "/model/:modelId/invoke", (request) =>
      jsonResponse({ echoedModel: request.params.modelId, bytes: request.body.length }),
    );
    const previous = process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME;
    process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = fake.url;
    const viaEnv = new BedrockRuntimeClient({
      region: fake.region,
      credentials: fake.credentials,
      maxAttempts: 1,
    });
    try {
      const out = await viaEnv.send(
        new InvokeModelCommand({
          modelId: MODEL,
          body: JSON.stringify({ prompt: "x" }),
          contentType: "application/json",
        }),
      );
      assert.deepEqual(JSON.parse(Buffer.from(out.body).toString("utf8")), { echoedModel: MODEL, bytes: 14 });
    } finally {
      if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME;
      else process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = previous;
      viaEnv.destroy();
    }
  });
});
