// The opt-in pause (spec §4.7): a GPU host costs ~$180/month whether or not the subnet pays. After `pauseAfterDays`
// in which the subnet paid nobody or burned, the host goes to zero; payments seen again (or the operator's
// `roadwork resume`) bring it back. State is a small JSON record the chain watch keeps between runs.
import { z } from "zod";
import type { PulseState } from "./subnet-pulse.ts";

const DAY_MS = 86_400_000;

export const PulseRecord = z.object({
  schemaVersion: z.literal(1),
  /** The last state seen and since when (unix ms) the subnet has not paid anyone (null while it pays). */
  state: z.enum(["paying", "paying-others", "burning", "silent"]),
  checkedAt: z.number().int(),
  notPayingSince: z.number().int().nullable(),
  paused: z.boolean(),
  pausedAt: z.number().int().nullable(),
  /** Set by `roadwork resume`: no automatic pause before this time (unix ms). */
  holdUntil: z.number().int().nullable(),
});
export type PulseRecord = z.infer<typeof PulseRecord>;

export type PauseAction = "pause" | "resume" | "none";

/** States in which this subnet pays nobody: the host earns nothing whatever it answers. */
export const NOT_PAYING: readonly PulseState[] = ["burning", "silent"];

export function decidePause(input: {
  previous: PulseRecord | undefined;
  state: PulseState;
  now: number;
  /** Undefined: pausing is off; the record is still kept (and a paused host is resumed when payments return). */
  pauseAfterDays: number | undefined;
}): { record: PulseRecord; action: PauseAction; reason: string } {
  const prev = input.previous;
  const notPaying = NOT_PAYING.includes(input.state);
  const notPayingSince = notPaying ? (prev?.notPayingSince ?? input.now) : null;
  const base: PulseRecord = {
    schemaVersion: 1,
    state: input.state,
    checkedAt: input.now,
    notPayingSince,
    paused: prev?.paused ?? false,
    pausedAt: prev?.pausedAt ?? null,
    holdUntil: prev?.holdUntil ?? null,
  };
  if (base.paused && !notPaying) {
    return {
      record: { ...base, paused: false, pausedAt: null },
      action: "resume",
      reason: `the subnet pays again (${input.state})`,
    };
  }
  if (!base.paused && notPaying && input.pauseAfterDays !== undefined && notPayingSince !== null) {
    const days = (input.now - notPayingSince) / DAY_MS;
    const held = base.holdUntil !== null && input.now < base.holdUntil;
    if (days >= input.pauseAfterDays && !held) {
      return {
        record: { ...base, paused: true, pausedAt: input.now },
        action: "pause",
        reason: `the subnet has paid nobody for ${days.toFixed(1)} days (${input.state}); pause after ${input.pauseAfterDays}`,
      };
    }
  }
  return { record: base, action: "none", reason: notPaying ? `not paying (${input.state})` : input.state };
}

/** What `roadwork resume` writes: running again, and no automatic pause for `holdDays`. */
export function resumedRecord(previous: PulseRecord | undefined, now: number, holdDays: number): PulseRecord {
  return {
    schemaVersion: 1,
    state: previous?.state ?? "silent",
    checkedAt: previous?.checkedAt ?? now,
    notPayingSince: previous?.notPayingSince ?? null,
    paused: false,
    pausedAt: null,
    holdUntil: now + holdDays * DAY_MS,
  };
}
