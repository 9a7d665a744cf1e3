// Automatic rollback: when the axon's answer-rate or error alarm goes to ALARM within a window after a promotion, the
// promotion is presumed to be the cause and `models/current.json` is restored to the previous pointer — the same
// atomic write as `roadwork model rollback`. Every decision (rolled back or not, and why) is recorded once per alarm
// event in the pipeline store, so a redelivered alarm finds its decision instead of acting again; the pointer's
// conditional write and its `rolledBack` mark keep two concurrent deliveries from rolling back twice.
import { z } from "zod";
import type { PipelineStore } from "./blob-store.ts";
import { PointerConflict, type PointerStore, type PromotionPointer, rollbackPointer } from "./model-pointer.ts";

/** Default: an alarm up to two hours after a promotion is blamed on it. */
export const AUTO_ROLLBACK_WINDOW_MINUTES = 120;

/** One alarm transition to ALARM, as CloudWatch reports it (EventBridge "CloudWatch Alarm State Change"). */
export const AlarmFiring = z.object({
  alarmName: z.string().min(1),
  /** When the alarm entered ALARM (ISO). */
  at: z.iso.datetime({ offset: true }),
  reason: z.string().default(""),
});
export type AlarmFiring = z.infer<typeof AlarmFiring>;

export type RollbackOutcome =
  | "rolled-back"
  | "outside-window"
  | "already-rolled-back"
  | "no-pointer"
  | "no-previous"
  | "conflict";

export interface RollbackDecision {
  outcome: RollbackOutcome;
  alarm: AlarmFiring;
  /** The version serving when the alarm fired, and the one serving after the decision. */
  serving: string | null;
  restored: string | null;
  promotedAt: string | null;
  /** Minutes between the promotion and the alarm (negative: the alarm predates the promotion). */
  minutesAfterPromotion: number | null;
  windowMinutes: number;
  detail: string;
  decidedAt: string;
}

/** The decision's key in the pipeline store: one per alarm transition (name + time it entered ALARM). */
export function rollbackDecisionKey(alarm: AlarmFiring): string {
  const at = new Date(alarm.at).toISOString().replaceAll(":", "");
  return `rollbacks/${alarm.alarmName.replace(/[^A-Za-z0-9._-]/g, "_")}/${at}.json`;
}

/** Pure: would this alarm, against this pointer, be blamed on its promotion? */
export function judgeAlarm(
  pointer: PromotionPointer | undefined,
  alarm: AlarmFiring,
  windowMinutes: number,
): {
  outcome: Exclude<RollbackOutcome, "rolled-back" | "conflict"> | "roll-back";
  minutes: number | null;
  detail: string;
} {
  if (!pointer) return { outcome: "no-pointer", minutes: null, detail: "no model pointer: nothing was promoted" };
  const minutes = (Date.parse(alarm.at) - Date.parse(pointer.promotedAt)) / 60_000;
  if (pointer.rolledBack) {
    return {
      outcome: "already-rolled-back",
      minutes,
      detail: `${pointer.version} was restored by a rollback of ${pointer.rolledBack.from} at ${pointer.rolledBack.at}; a rollback is never rolled back automatically`,
    };
  }
  if (!(minutes >= 0 && minutes <= windowMinutes)) {
    return {
      outcome: "outside-window",
      minutes,
      detail: `${pointer.version} was promoted ${minutes.toFixed(1)} min before the alarm; the window is ${windowMinutes} min`,
    };
  }
  if (!pointer.previous) {
    return {
      outcome: "no-previous",
      minutes,
      detail: `${pointer.version} was promoted ${minutes.toFixed(1)} min before the alarm but keeps no previous pointer to restore; the operator must act`,
    };
  }
  return {
    outcome: "roll-back",
    minutes,
    detail: `${pointer.version} was promoted ${minutes.toFixed(1)} min before the alarm: restoring ${pointer.previous.version}`,
  };
}

export interface AutoRollbackOptions {
  pointer: PointerStore;
  /** Where decisions are recorded (the pipeline store). */
  decisions: PipelineStore;
  windowMinutes?: number;
  now?: () => Date;
}

/**
 * Decides and, inside the window, rolls back. Returns the recorded decision; a second delivery of the same alarm
 * transition returns the first decision unchanged (`repeated: true`) and touches nothing.
 */
export async function rollbackOnAlarm(
  rawAlarm: unknown,
  options: AutoRollbackOptions,
): Promise<RollbackDecision & { repeated: boolean }> {
  const alarm = AlarmFiring.parse(rawAlarm);
  const windowMinutes = options.windowMinutes ?? AUTO_ROLLBACK_WINDOW_MINUTES;
  const key = rollbackDecisionKey(alarm);
  const earlier = await options.decisions.getJson<RollbackDecision>(key);
  if (earlier) return { ...earlier, repeated: true };
  const now = options.now?.() ?? new Date();
  const current = await options.pointer.read();
  const judged = judgeAlarm(current?.pointer, alarm, windowMinutes);
  const base = {
    alarm,
    serving: current?.pointer.version ?? null,
    promotedAt: current?.pointer.promotedAt ?? null,
    minutesAfterPromotion: judged.minutes === null ? null : Math.round(judged.minutes * 10) / 10,
    windowMinutes,
    decidedAt: now.toISOString(),
  };
  let decision: RollbackDecision;
  if (judged.outcome !== "roll-back") {
    decision = { ...base, outcome: judged.outcome, restored: base.serving, detail: judged.detail };
  } else {
    try {
      const { to } = await rollbackPointer(options.pointer, now, `alarm ${alarm.alarmName}`);
      decision = { ...base, outcome: "rolled-back", restored: to.version, detail: judged.detail };
    } catch (error) {
      // Another writer (a concurrent delivery, a promotion) changed the pointer between read and write: nothing was
      // written; the next delivery judges the new pointer.
      if (!(error instanceof PointerConflict)) throw error;
      return {
        ...base,
        outcome: "conflict",
        restored: null,
        detail: `the pointer changed while rolling back: ${error.message}`,
        repeated: false,
      };
    }
  }
  await options.decisions.putJson(key, decision);
  return { ...decision, repeated: false };
}
