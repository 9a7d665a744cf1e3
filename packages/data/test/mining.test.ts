// Hard-case mining: uncertainty × diversity on embeddings.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { disagreement, type MiningCandidate, marginUncertainty, mineHardCases } from "@roadwork/data";

const hex = (i: number) => i.toString(16).padStart(64, "0");
const at = (i: number, score: number, embedding: number[], views: number[] = []): MiningCandidate => ({
  sha256: hex(i),
  score,
  views,
  embedding,
});

describe("mineHardCases", () => {
  it("scores uncertainty by margin and by member/view disagreement", () => {
    assert.equal(marginUncertainty(0.5, 0.5), 1);
    assert.equal(marginUncertainty(1, 0.5), 0);
    assert.ok(Math.abs(marginUncertainty(0.65, 0.5) - 0.7) < 1e-12);
    assert.equal(disagreement([0.9]), 0);
    assert.equal(disagreement([0.1, 0.9]), 0.8);
  });

  it("picks the uncertain cases first but not fifty copies of the same scene", () => {
    // A tight cluster of five near-threshold images, one near-threshold outlier, and confident images elsewhere.
    const cluster = [0, 1, 2, 3, 4].map((i) => at(i, 0.5 + i * 0.005, [1, 0.01 * i, 0]));
    const outlier = at(10, 0.45, [0, 1, 0]);
    const confident = [20, 21, 22].map((i) => at(i, 0.99, [0, 0, 1 + (i - 20) * 0.01]));
    const picked = mineHardCases([...confident, ...cluster, outlier], { budget: 3 });
    assert.equal(picked.length, 3);
    assert.equal(picked[0]!.sha256, hex(0)); // the most uncertain
    assert.equal(picked[1]!.sha256, hex(10)); // the uncertain outlier beats the rest of the cluster
    // Third: a far, confident image (weight 0.1 × distance ≈ 1.4) beats another cluster member (≈ 1.1 × 0.01).
    assert.ok(picked[2]!.sha256 === hex(20) || picked[2]!.sha256 === hex(21) || picked[2]!.sha256 === hex(22));
    assert.deepEqual(
      picked.map((p) => p.rank),
      [0, 1, 2],
    );
  });

  it("weights ensemble disagreement, skips exact duplicates, and starts from the labelled pool", () => {
    const a = at(1, 0.95, [1, 0], [0.2, 0.99]); // confident on average, but the members disagree
    const b = at(2, 0.95, [0, 1], [0.95, 0.95]);
    const dupes = [at(3, 0.5, [1, 1]), at(4, 0.5, [1, 1])];
    const picked = mineHardCases([a, b, ...dupes], { budget: 10 });
    assert.equal(picked[0]!.sha256, hex(3)); // margin 1
    assert.ok(picked.findIndex((p) => p.sha256 === hex(1)) < picked.findIndex((p) => p.sha256 === hex(2)));
    assert.equal(picked.filter((p) => p.sha256 === hex(3) || p.sha256 === hex(4)).length, 1);
    // A labelled image right where candidate 3 sits makes it nearly worthless.
    const seeded = mineHardCases([a, ...dupes], { budget: 1 }, [[1, 1]]);
    assert.equal(seeded[0]!.sha256, hex(1));
  });
});
