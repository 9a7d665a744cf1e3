// The reward decay clock after a model submission. NATIX announces 90 days of reward: 45 days full, then decaying
// (natix README + docs/Incentive.md "Future Plan"); no validator code computes it (spec §4.4), so the curve is not
// documented. Assumed: linear from full at `fullRewardDays` to zero at `zeroRewardDays`. Both are configurable.
import { z } from "zod";

const DAY_S = 86_400;

export const DecayPolicyConfig = z
  .object({
    fullRewardDays: z.number().positive().default(45),
    zeroRewardDays: z.number().positive().default(90),
    /** Warnings this many days before decay starts. */
    preDecayAlertDays: z.array(z.number().positive()).default([21, 14, 7, 3]),
    /** During decay: one alert each time the factor falls by this much (0.1 = at 90%, 80%, ... 10%). */
    factorAlertStep: z.number().gt(0).lte(1).default(0.1),
    /** Start retraining this many days before decay starts: training + gate + publish + registration must fit. */
    retrainLeadDays: z.number().nonnegative().default(10),
  })
  .refine((c) => c.zeroRewardDays > c.fullRewardDays, { message: "zeroRewardDays must exceed fullRewardDays" });
export type DecayPolicyConfig = z.input<typeof DecayPolicyConfig>;

export type DecayPhase = "full" | "decaying" | "expired";

export interface DecayStatus {
  submissionTime: number;
  /** Unix seconds at evaluation. */
  evaluatedAt: number;
  daysSinceSubmission: number;
  /** 1 during the full period, linear down to 0. */
  rewardFactor: number;
  daysUntilDecay: number;
  daysUntilZero: number;
  phase: DecayPhase;
}

export interface DecayAlert {
  /** Stable id, unique per submission: "pre-decay-21d", "decay-started", "factor-80", "reward-zero". */
  id: string;
  /** Day (since submission) at which it becomes due. */
  day: number;
  kind: "pre-decay" | "decay-started" | "factor-drop" | "reward-zero";
  severity: "info" | "warning" | "critical";
}

export class DecayPolicy {
  readonly config: z.output<typeof DecayPolicyConfig>;
  readonly alerts: readonly DecayAlert[];

  constructor(config: DecayPolicyConfig = {}) {
    this.config = DecayPolicyConfig.parse(config);
    this.alerts = buildSchedule(this.config);
  }

  rewardFactorAt(days: number): number {
    const { fullRewardDays: full, zeroRewardDays: zero } = this.config;
    if (days <= full) return 1;
    if (days >= zero) return 0;
    return 1 - (days - full) / (zero - full);
  }

  /** `now` as a Date or unix seconds. A submission in the future (clock skew) counts as day 0. */
  status(submissionTime: number, now: Date | number): DecayStatus {
    if (!Number.isFinite(submissionTime) || submissionTime <= 0) {
      throw new Error(`invalid submission_time ${submissionTime}: expected unix seconds`);
    }
    const nowS = now instanceof Date ? now.getTime() / 1000 : now;
    const days = Math.max(0, (nowS - submissionTime) / DAY_S);
    const { fullRewardDays: full, zeroRewardDays: zero } = this.config;
    return {
      submissionTime,
      evaluatedAt: nowS,
      daysSinceSubmission: days,
      rewardFactor: this.rewardFactorAt(days),
      daysUntilDecay: Math.max(0, full - days),
      daysUntilZero: Math.max(0, zero - days),
      phase: days < full ? "full" : days < zero ? "decaying" : "expired",
    };
  }

  /** Alerts crossed by `status` and not yet in `alreadySent`, oldest first. */
  dueAlerts(status: DecayStatus, alreadySent: Iterable<string>): DecayAlert[] {
    const sent = new Set(alreadySent);
    return this.alerts.filter((a) => status.daysSinceSubmission >= a.day && !sent.has(a.id));
  }

  /** The first alert not yet crossed, with the days left until it. */
  nextAlert(status: DecayStatus): { alert: DecayAlert; inDays: number } | undefined {
    const a = this.alerts.find((x) => x.day > status.daysSinceSubmission);
    return a ? { alert: a, inDays: a.day - status.daysSinceSubmission } : undefined;
  }

  retrainDay(): number {
    return Math.max(0, this.config.fullRewardDays - this.config.retrainLeadDays);
  }

  shouldRetrain(status: DecayStatus): boolean {
    return status.daysSinceSubmission >= this.retrainDay();
  }

  daysUntilRetrain(status: DecayStatus): number {
    return Math.max(0, this.retrainDay() - status.daysSinceSubmission);
  }
}

function buildSchedule(c: z.output<typeof DecayPolicyConfig>): DecayAlert[] {
  const out: DecayAlert[] = [];
  for (const d of [...new Set(c.preDecayAlertDays)].sort((a, b) => b - a)) {
    if (d >= c.fullRewardDays) continue;
    out.push({
      id: `pre-decay-${d}d`,
      day: c.fullRewardDays - d,
      kind: "pre-decay",
      severity: d <= 7 ? "warning" : "info",
    });
  }
  out.push({ id: "decay-started", day: c.fullRewardDays, kind: "decay-started", severity: "warning" });
  // Integer steps avoid float drift: 1 - k*step, rounded to whole percent for the id.
  const steps = Math.round(1 / c.factorAlertStep);
  const span = c.zeroRewardDays - c.fullRewardDays;
  for (let k = 1; k * c.factorAlertStep < 1 - 1e-9 && k < steps + 1; k++) {
    const factor = 1 - k * c.factorAlertStep;
    out.push({
      id: `factor-${Math.round(factor * 100)}`,
      day: c.fullRewardDays + span * k * c.factorAlertStep,
      kind: "factor-drop",
      severity: factor <= 0.5 ? "critical" : "warning",
    });
  }
  out.push({ id: "reward-zero", day: c.zeroRewardDays, kind: "reward-zero", severity: "critical" });
  return out;
}
