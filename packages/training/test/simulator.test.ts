import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type ChallengeFormat, generateDataset } from "@roadwork/data";
import sharp from "sharp";
import { type Challenge, ChallengeSource } from "../src/simulator/challenges.ts";
import { percentile, renderScoreboard, ValidatorSimulator } from "../src/simulator/simulator.ts";

const FORMATS: ChallengeFormat[] = ["jan", "apr", "may"];

// Challenges carry their label in the first image byte (and the format in the second) so a scripted miner can
// answer from them; formats rotate jan, apr, may.
function challenges() {
  let i = 0;
  return {
    async next(): Promise<Challenge> {
      const format = FORMATS[i % 3]!;
      const label = (Math.floor(i++ / 2) % 2) as 0 | 1;
      return {
        image: Buffer.from([label, FORMATS.indexOf(format)]),
        label,
        category: "x",
        format,
        width: 224,
        height: 224,
        recordId: `r${i}`,
      };
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
      // A count, not a 0.4 s window: a loaded CI sends fewer per second, and the assertions are about scoring.
      maxChallenges: 80,
    });
    const board = await sim.run(30);
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
    assert.ok(Date.now() - started < 20_000, "returned early, not after the 30 s run"); // generous for a loaded CI
  });

  it("shows the format mix and the miner's accuracy per validator format", async () => {
    // A miner that gets every native ("may") frame wrong and the 224×224 formats right.
    const sim = new ValidatorSimulator({
      validators: [
        {
          name: "v",
          hotkey: "a",
          challenge: async (img) => {
            const right = img[0] === 1 ? 0.9 : 0.1;
            return { status: 200, prediction: img[1] === 2 ? 1 - right : right, latencyMs: 1 };
          },
        },
      ],
      challenges: challenges(),
      rate: 500,
      maxChallenges: 60,
    });
    const board = await sim.run(30);
    assert.deepEqual(
      board.formats.map((f) => [f.format, f.sent]),
      [
        ["jan", 20],
        ["apr", 20],
        ["may", 20],
      ],
    );
    const may = board.formats.find((f) => f.format === "may")!;
    const jan = board.formats.find((f) => f.format === "jan")!;
    assert.equal(jan.accuracy, 1);
    assert.equal(may.accuracy, 0);
    assert.ok(Math.abs(jan.share - 1 / 3) < 1e-9);
    const text = renderScoreboard(board).join("\n");
    assert.match(text, /may native\s+20\s+33%/);
    assert.match(text, /jan 224 crop\s+20\s+33%\s+[\d.]+\s+1\.000\s+1\.000/);
  });

  it("makes each validator format from a dataset: 224×224 crops and letterboxes, native 1920×1080/1024×1024 frames", async () => {
    const dir = await mkdtemp(join(tmpdir(), "roadwork-formats-"));
    try {
      const dataset = await generateDataset({
        dir,
        count: 24,
        baseSeed: 11,
        splitFractions: { train: 0, val: 0, test: 1 },
      });
      const source = new ChallengeSource(dataset, { seed: 3, formats: { apr: 1, may: 1 } });
      const seen = new Map<ChallengeFormat, Set<string>>();
      for (let i = 0; i < 12; i++) {
        const c = await source.next();
        const meta = await sharp(c.image).metadata();
        assert.equal(meta.format, "jpeg");
        assert.equal(`${meta.width}x${meta.height}`, `${c.width}x${c.height}`);
        const sizes = seen.get(c.format) ?? new Set();
        sizes.add(`${c.width}x${c.height}`);
        seen.set(c.format, sizes);
        if (c.format === "may") assert.equal(c.level, undefined);
        else assert.ok(c.level !== undefined);
      }
      assert.equal(seen.has("jan"), false, "jan is not in the mix");
      assert.deepEqual([...seen.get("apr")!], ["224x224"]);
      for (const size of seen.get("may")!) assert.ok(["1920x1080", "1024x1024"].includes(size), size);
      assert.equal(source.counts.apr + source.counts.may, 12);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("computes nearest-rank percentiles", () => {
    assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});
