// Signature verification on the worker pool and inline: the same answers, and racing replays of one signed request
// are accepted exactly once either way. "auto" checks inline when the model runs on the CPU.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Scorer } from "@roadwork/inference";
import {
  dendriteFor,
  devKeys,
  metagraphOf,
  neuron,
  rawPost,
  realScorer,
  sceneJpeg,
  startTestAxon,
  type TestAxon,
} from "./harness.ts";

for (const mode of ["pool", "inline"] as const) {
  describe(`signature verification: ${mode}`, () => {
    let keys: Awaited<ReturnType<typeof devKeys>>;
    let scorer: Scorer;
    let cleanup: () => Promise<void>;
    let axon: TestAxon;
    let jpeg: Uint8Array;

    before(async () => {
      keys = await devKeys();
      ({ scorer, cleanup } = await realScorer());
      axon = await startTestAxon({
        scorer,
        hotkey: keys.bob.address,
        metagraph: metagraphOf([neuron(0, keys.alice, 1000, true), neuron(1, keys.bob, 5, false)]),
        config: { signatureVerification: mode, rateLimit: { burst: 10_000, refillPerSecond: 1_000 } },
      });
      jpeg = await sceneJpeg(5);
    });
    after(async () => {
      await axon.close();
      await cleanup();
    });

    it("accepts one of several identical signed requests sent at once; the others are replays", async () => {
      assert.equal(axon.axon.config.signatureVerification, mode);
      assert.equal(axon.axon.verification, mode);
      const req = dendriteFor(keys.alice).buildRequest({
        axon: { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address },
        image: jpeg,
        timeout: 9,
      });
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => rawPost(axon.port, { headers: req.headers, body: req.body })),
      );
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 401, 401, 401, 401, 401]);
      for (const a of answers.filter((x) => x.status === 401)) {
        assert.equal(
          (a.json() as { message: string }).message,
          "Not Verified with error: Nonce is too old, a newer one was last processed",
        );
      }
    });

    it("refuses a forged signature with the exact mismatch message", async () => {
      const req = dendriteFor(keys.alice).buildRequest({
        axon: { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address },
        image: jpeg,
        timeout: 9,
      });
      const forged = `0x${"ab".repeat(64)}`;
      const res = await rawPost(axon.port, {
        headers: { ...req.headers, bt_header_dendrite_signature: forged },
        body: req.body,
      });
      assert.equal(res.status, 401);
      assert.equal(
        (res.json() as { message: string }).message,
        `Not Verified with error: Signature mismatch with ${req.signedMessage} and ${forged}`,
      );
    });
  });
}

describe("signature verification: auto", () => {
  it("checks inline when the scorer runs on the CPU and on the pool when it runs on a GPU, answering either way", async () => {
    const keys = await devKeys();
    const { scorer, cleanup } = await realScorer();
    const jpeg = await sceneJpeg(6);
    const onGpu: Scorer = {
      modelVersion: scorer.modelVersion,
      device: "cuda",
      score: (image, options) => scorer.score(image, options),
      close: () => Promise.resolve(),
    };
    try {
      assert.equal(scorer.device, "cpu");
      for (const [model, expected] of [
        [scorer, "inline"],
        [onGpu, "pool"],
      ] as const) {
        const axon = await startTestAxon({
          scorer: model,
          hotkey: keys.bob.address,
          metagraph: metagraphOf([neuron(0, keys.alice, 1000, true), neuron(1, keys.bob, 5, false)]),
          config: { signatureVerification: "auto", rateLimit: { burst: 10_000, refillPerSecond: 1_000 } },
        });
        try {
          assert.equal(axon.axon.config.signatureVerification, "auto");
          assert.equal(axon.axon.verification, expected);
          const req = dendriteFor(keys.alice).buildRequest({
            axon: { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address },
            image: jpeg,
            timeout: 9,
          });
          const res = await rawPost(axon.port, { headers: req.headers, body: req.body });
          assert.equal(res.status, 200, `${expected}: ${res.body}`);
        } finally {
          await axon.close();
        }
      }
    } finally {
      await cleanup();
    }
  });
});
