// The Cosmos NIM adapter against a loopback NIM: readiness, the documented /v1/infer body, image and video payloads,
// and the HTTP failures a hosted endpoint answers with.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Synth } from "@roadwork/data";
import sharp from "sharp";
import { FakeCosmos } from "../support/fake-cosmos.ts";

describe("Cosmos NIM generator", () => {
  let fake: FakeCosmos;
  before(async () => {
    fake = await FakeCosmos.start();
  });
  after(() => fake.close());

  const [t2i] = Synth.planRequests({ batchId: "c", count: 1, label: 1 });

  it("waits for readiness, then sends the NIM body for one frame and decodes the image", async () => {
    fake.ready = false;
    const generator = new Synth.CosmosGenerator({ baseUrl: fake.url });
    await assert.rejects(
      generator.prepare(),
      /is not ready \(HTTP 503, status not ready\); wait for the model to load/,
    );
    fake.ready = true;
    await generator.prepare();
    const [image] = await generator.generate(t2i!);
    assert.equal((await sharp(image!.bytes).metadata()).format, "jpeg");
    assert.equal(image!.provenance.generator, `cosmos:${fake.url}`);
    const call = fake.calls.at(-1)!;
    assert.equal(call.video_params?.frames_count, 1);
    assert.equal(call.prompt_upsampling, false);
    assert.equal(call.seed, t2i!.seed);
    assert.match(call.negative_prompt ?? "", /no oversaturation/);
  });

  it("image-to-image sends the source frame as a data URL", async () => {
    const [i2i] = Synth.planRequests({ batchId: "ci", count: 1, sources: [{ id: "r", group: "g", label: 0 }] });
    const source = await sharp({ create: { width: 300, height: 200, channels: 3, background: "#556070" } })
      .jpeg()
      .toBuffer();
    const [image] = await new Synth.CosmosGenerator({ baseUrl: fake.url }).generate(i2i!, source);
    assert.equal(image!.provenance.mode, "image-to-image");
    assert.match(fake.calls.at(-1)!.image ?? "", /^data:image\/jpeg;base64,/);
  });

  it("a video payload needs the frame extractor", async () => {
    fake.mode = "video";
    try {
      await assert.rejects(
        new Synth.CosmosGenerator({ baseUrl: fake.url }).generate(t2i!),
        (e: Synth.GenerationError) => e.kind === "malformed-response" && /frame extractor/.test(e.message),
      );
      const firstJpeg = async (video: Uint8Array) =>
        video.subarray(Buffer.from(video).indexOf(Buffer.from([0xff, 0xd8, 0xff])));
      const [image] = await new Synth.CosmosGenerator({ baseUrl: fake.url, extractFrame: firstJpeg }).generate(t2i!);
      assert.equal((await sharp(image!.bytes).metadata()).format, "jpeg");
    } finally {
      fake.mode = "image";
    }
  });

  it("maps 429, guardrail refusals, 5xx and non-JSON answers to failure kinds", async () => {
    const generator = new Synth.CosmosGenerator({ baseUrl: fake.url });
    const kinds: string[] = [];
    fake.next("throttle", "guardrail", "error", "not-json");
    for (let i = 0; i < 4; i++) {
      await generator.generate(t2i!).catch((e: Synth.GenerationError) => kinds.push(`${e.kind}:${e.retryable}`));
    }
    assert.deepEqual(kinds, [
      "throttled:true",
      "content-filtered:false",
      "model-error:true",
      "malformed-response:false",
    ]);
  });
});
