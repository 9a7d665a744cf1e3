import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Challenge } from "../src/simulator/challenges.ts";
import { percentile, renderScoreboard, ValidatorSimulator } from "../src/simulator/simulator.ts";

// Challenges carry their label in the first image byte so a scripted miner can answer from it.
function challenges() {
  let i = 0;
  return {
    async next(): Promise<Challenge> {
      const label = (Math.floor(i++ / 2) % 2) as 0 | 1;
      return { image: Buffer.from([label]), label, category: "x", level: 0, recordId: `r${i}` };
    },
  };
}

describe("validator simulator", () => {
  it("scores a perfect miner with MCC 1 and rising EMA, and counts a failing one as errors", async () => {
    const sim = new ValidatorSimulator({
      validators: [
        {
          name: "good",
          hotkey: "a",
          challenge: async (img) => ({ status: 200, prediction: img[0] === 1 ? 0.9 : 0.1, latencyMs: 2 }),
        },
        { name: "down", hotkey: "b", challenge: async () => ({ status: 503, prediction: -1, latencyMs: 1 }) },
      ],
      challenges: challenges(),
      rate: 200,
    });
    const board = await sim.run(0.4);
    const [good, down] = board.validators;
    assert.ok(good!.sent >= 10);
    assert.equal(good!.errors, 0);
    assert.equal(good!.mcc100, 1);
    assert.equal(good!.accuracy10, 1);
    assert.ok(good!.ema > 0.3 && good!.ema < 1);
    assert.equal(down!.answered, 0);
    assert.equal(down!.errors, down!.sent);
    assert.equal(down!.ema, 0);
    assert.equal(board.overall.mcc, 1);
  });

  it("counts attack outcomes per kind and names leaks", async () => {
    const sim = new ValidatorSimulator({
      validators: [{ name: "v", hotkey: "a", challenge: async () => ({ status: 200, prediction: 0.2, latencyMs: 1 }) }],
      challenges: challenges(),
      rate: 50,
      attacker: {
        kinds: ["refused", "leaky"],
        send: async (kind) => ({ status: kind === "leaky" ? 200 : 403, latencyMs: 1 }),
      },
      attackRate: 200,
      attackWindowMs: "always",
    });
    const board = await sim.run(0.3);
    const refused = board.attacks.find((a) => a.kind === "refused")!;
    const leaky = board.attacks.find((a) => a.kind === "leaky")!;
    assert.ok(refused.sent > 0 && refused.rejected === refused.sent && refused.statuses["403"] === refused.sent);
    assert.ok(leaky.leaked > 0);
    assert.ok(renderScoreboard(board).some((l) => l.includes("LEAKS: leaky")));
  });

  it("stops after a fixed number of challenges and returns early", async () => {
    const sim = new ValidatorSimulator({
      validators: [{ name: "v", hotkey: "a", challenge: async () => ({ status: 200, prediction: 0.7, latencyMs: 1 }) }],
      challenges: challenges(),
      rate: 500,
      maxChallenges: 25,
    });
    const started = Date.now();
    const board = await sim.run(30);
    assert.equal(board.overall.sent, 25);
    assert.ok(Date.now() - started < 5_000);
  });

  it("computes nearest-rank percentiles", () => {
    assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});
