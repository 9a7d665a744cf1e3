import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DecayPolicy } from "../src/decay-policy.ts";

const DAY = 86_400;
const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z
const at = (days: number) => T0 + days * DAY;

describe("DecayPolicy (default: full 45 days, linear to zero at 90)", () => {
  const policy = new DecayPolicy();

  const table: [days: number, factor: number, phase: string, untilDecay: number, untilZero: number][] = [
    [0, 1, "full", 45, 90],
    [44.99, 1, "full", 0.01, 45.01],
    [45, 1, "decaying", 0, 45],
    [45.01, 1 - 0.01 / 45, "decaying", 0, 44.99],
    [67.5, 0.5, "decaying", 0, 22.5],
    [90, 0, "expired", 0, 0],
    [120, 0, "expired", 0, 0],
  ];
  for (const [days, factor, phase, untilDecay, untilZero] of table) {
    it(`day ${days}: factor ${factor.toFixed(6)}, ${phase}`, () => {
      const s = policy.status(T0, at(days));
      assert.ok(Math.abs(s.daysSinceSubmission - days) < 1e-9);
      assert.ok(Math.abs(s.rewardFactor - factor) < 1e-9, `factor ${s.rewardFactor}`);
      assert.equal(s.phase, phase);
      assert.ok(Math.abs(s.daysUntilDecay - untilDecay) < 1e-9);
      assert.ok(Math.abs(s.daysUntilZero - untilZero) < 1e-9);
    });
  }

  it("accepts a Date and clamps a future submission to day 0", () => {
    assert.equal(policy.status(T0, new Date(at(10) * 1000)).daysSinceSubmission, 10);
    const s = policy.status(at(1), at(0));
    assert.equal(s.daysSinceSubmission, 0);
    assert.equal(s.rewardFactor, 1);
  });

  it("rejects a submission time that is not unix seconds", () => {
    assert.throws(() => policy.status(0, T0), /invalid submission_time/);
    assert.throws(() => policy.status(Number.NaN, T0), /invalid submission_time/);
  });

  it("schedules pre-decay alerts, decay start, every 10% drop and zero", () => {
    assert.deepEqual(
      policy.alerts.map((a) => `${a.id}@${Math.round(a.day * 100) / 100}`),
      [
        "pre-decay-21d@24",
        "pre-decay-14d@31",
        "pre-decay-7d@38",
        "pre-decay-3d@42",
        "decay-started@45",
        "factor-90@49.5",
        "factor-80@54",
        "factor-70@58.5",
        "factor-60@63",
        "factor-50@67.5",
        "factor-40@72",
        "factor-30@76.5",
        "factor-20@81",
        "factor-10@85.5",
        "reward-zero@90",
      ],
    );
  });

  it("an alert is due exactly from its crossing day and never again once sent", () => {
    assert.deepEqual(policy.dueAlerts(policy.status(T0, at(23.999)), []), []);
    const due = policy.dueAlerts(policy.status(T0, at(24)), []);
    assert.deepEqual(
      due.map((a) => a.id),
      ["pre-decay-21d"],
    );
    assert.deepEqual(policy.dueAlerts(policy.status(T0, at(30)), ["pre-decay-21d"]), []);
    // A missed week: every crossed, unsent alert is due, oldest first.
    assert.deepEqual(
      policy.dueAlerts(policy.status(T0, at(46)), ["pre-decay-21d"]).map((a) => a.id),
      ["pre-decay-14d", "pre-decay-7d", "pre-decay-3d", "decay-started"],
    );
  });

  it("nextAlert and retrain timing", () => {
    const s = policy.status(T0, at(30));
    const next = policy.nextAlert(s);
    assert.equal(next?.alert.id, "pre-decay-14d");
    assert.ok(Math.abs((next?.inDays ?? 0) - 1) < 1e-9);
    assert.equal(policy.retrainDay(), 35);
    assert.equal(policy.shouldRetrain(policy.status(T0, at(34.99))), false);
    assert.equal(policy.shouldRetrain(policy.status(T0, at(35))), true);
    assert.ok(Math.abs(policy.daysUntilRetrain(s) - 5) < 1e-9);
    assert.equal(policy.nextAlert(policy.status(T0, at(95))), undefined);
  });

  it("is configurable and validates its config", () => {
    const p = new DecayPolicy({
      fullRewardDays: 30,
      zeroRewardDays: 60,
      preDecayAlertDays: [5],
      factorAlertStep: 0.5,
      retrainLeadDays: 40,
    });
    assert.deepEqual(
      p.alerts.map((a) => [a.id, a.day]),
      [
        ["pre-decay-5d", 25],
        ["decay-started", 30],
        ["factor-50", 45],
        ["reward-zero", 60],
      ],
    );
    assert.equal(p.retrainDay(), 0);
    assert.equal(p.status(T0, at(45)).rewardFactor, 0.5);
    assert.throws(() => new DecayPolicy({ fullRewardDays: 50, zeroRewardDays: 40 }), /zeroRewardDays/);
  });
});
