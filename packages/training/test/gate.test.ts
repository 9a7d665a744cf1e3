// The champion/challenger gate on synthetic score sets whose figures are known.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Prng } from "@roadwork/data";
import { decidePromotion, type GateItem, renderGateMarkdown, renderGateSvg, rewardFigures } from "../src/index.ts";

const FORMATS = ["augmented", "letterbox", "native"];
/** n items per format, half positive. */
const itemsOf = (n: number): GateItem[] =>
  FORMATS.flatMap((format) => Array.from({ length: n }, (_, i) => ({ label: (i % 2) as 0 | 1, format })));

/** Served scores that are right with probability `accuracy[format]` (deterministic in `seed`). */
function scores(items: GateItem[], accuracy: Record<string, number>, seed: string): number[] {
  const rng = new Prng(seed);
  return items.map((it) => {
    const right = rng.next() < accuracy[it.format]!;
    const yes = right ? it.label === 1 : it.label === 0;
    return yes ? 0.8 : 0.2;
  });
}

describe("gate", () => {
  test("reward figures follow the validators: banker's rounding at 0.5, MCC floored at 0, invalid answers wrong", () => {
    assert.deepEqual(rewardFigures([0.9, 0.1, 0.5, 0.6], [1, 0, 1, 0]), {
      count: 4,
      reward: 0.5 * 0 + 0.5 * 0.5, // tp 1, tn 1, fn 1 (0.5 → 0), fp 1: MCC 0
      mcc: 0,
      accuracy: 0.5,
    });
    assert.equal(rewardFigures([Number.NaN, 1.5], [1, 0]).accuracy, 0);
    assert.equal(rewardFigures([0.9, 0.1], [1, 0]).reward, 1);
  });

  test("promotes a clearly better challenger; the bootstrap bound and the figures are recorded", () => {
    const items = itemsOf(200);
    const d = decidePromotion({
      items,
      champion: { version: "old", scores: scores(items, { augmented: 0.7, letterbox: 0.7, native: 0.7 }, "a") },
      challenger: { version: "new", scores: scores(items, { augmented: 0.85, letterbox: 0.85, native: 0.85 }, "b") },
    });
    assert.equal(d.decision, "promote", d.reasons.join("; "));
    assert.ok(d.gain!.lower > d.policy.margin && d.gain!.lower < d.gain!.observed && d.gain!.observed < d.gain!.upper);
    assert.equal(
      d.gain!.histogram.reduce((a, b) => a + b.count, 0),
      d.policy.resamples,
    );
    assert.deepEqual(d.regressions, []);
    assert.match(renderGateSvg(d), /^<svg[^>]*>.*PROMOTE/s);
    assert.match(renderGateMarkdown(d, "gate.svg"), /!\[gate decision\]\(gate\.svg\)/);
    // Same inputs, same seed: the same decision and bounds.
    const again = decidePromotion({
      items,
      champion: { version: "old", scores: scores(items, { augmented: 0.7, letterbox: 0.7, native: 0.7 }, "a") },
      challenger: { version: "new", scores: scores(items, { augmented: 0.85, letterbox: 0.85, native: 0.85 }, "b") },
    });
    assert.deepEqual(again.gain, d.gain);
  });

  test("keeps the champion when the gain is not significant", () => {
    const items = itemsOf(30);
    const d = decidePromotion({
      items,
      champion: { version: "old", scores: scores(items, { augmented: 0.8, letterbox: 0.8, native: 0.8 }, "a") },
      challenger: { version: "new", scores: scores(items, { augmented: 0.82, letterbox: 0.82, native: 0.82 }, "b") },
    });
    assert.equal(d.decision, "keep-champion");
    assert.ok(d.gain!.lower <= d.policy.margin);
  });

  test("never promotes over a regression on one validator format, however large the overall gain", () => {
    const items = itemsOf(300);
    const d = decidePromotion({
      items,
      champion: { version: "old", scores: scores(items, { augmented: 0.6, letterbox: 0.6, native: 0.9 }, "a") },
      challenger: { version: "new", scores: scores(items, { augmented: 0.95, letterbox: 0.95, native: 0.8 }, "b") },
    });
    assert.ok(d.gain!.lower > d.policy.margin, "the overall gain is significant");
    assert.equal(d.decision, "keep-champion");
    assert.deepEqual(
      d.regressions.map((r) => r.format),
      ["native"],
    );
  });

  test("without a champion the challenger must reach the minimum reward", () => {
    const items = itemsOf(50);
    const good = scores(items, { augmented: 0.9, letterbox: 0.9, native: 0.9 }, "g");
    assert.equal(decidePromotion({ items, challenger: { version: "a", scores: good } }).decision, "promote");
    const coin = scores(items, { augmented: 0.5, letterbox: 0.5, native: 0.5 }, "c");
    assert.equal(decidePromotion({ items, challenger: { version: "b", scores: coin } }).decision, "keep-champion");
    assert.throws(() => decidePromotion({ items: [], challenger: { version: "c", scores: [] } }), /empty/);
  });
});
