// Score calibration: the model's logit → the probability sent to validators. Validators round at 0.5 with
// banker's rounding (0.5 → "no roadwork"), so the decision threshold chosen in training is mapped to 0.5 by a
// monotone transform, the result is clamped away from 0 and 1, and an exact 0.5 is nudged to the "no" side.
import { z } from "zod";

export const CalibrationSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("none") }),
  /** sigmoid(z − logit(threshold)): p = threshold maps to exactly 0.5 (then nudged). */
  z.object({ kind: z.literal("threshold-shift"), threshold: z.number().gt(0).lt(1) }),
  /** Platt scaling sigmoid(a·z + b) with a > 0 (monotone), then an optional threshold shift on its output. */
  z.object({
    kind: z.literal("platt"),
    a: z.number().positive(),
    b: z.number(),
    threshold: z.number().gt(0).lt(1).optional(),
  }),
]);
export type Calibration = z.infer<typeof CalibrationSchema>;

export const SCORE_MIN = 1e-6;
export const SCORE_MAX = 1 - 1e-6;
/** What an exact 0.5 becomes. */
export const NUDGED_HALF = 0.5 - 1e-6;

export const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** logit(p) with p clamped to keep the result finite. */
export const logit = (p: number): number => {
  const q = Math.min(Math.max(p, 1e-15), 1 - 1e-15);
  return Math.log(q / (1 - q));
};

/** The calibrated logit: monotone increasing in `z` for every calibration kind. */
export function calibratedLogit(z: number, calibration: Calibration): number {
  switch (calibration.kind) {
    case "none":
      return z;
    case "threshold-shift":
      return z - logit(calibration.threshold);
    case "platt": {
      const platt = calibration.a * z + calibration.b;
      return calibration.threshold === undefined ? platt : platt - logit(calibration.threshold);
    }
  }
}

/** Final guard on any score leaving the engine: finite, inside [1e-6, 1−1e-6], never exactly 0.5. */
export function finalizeScore(p: number): number {
  if (!Number.isFinite(p)) throw new RangeError(`score ${p} is not finite`);
  const clamped = Math.min(Math.max(p, SCORE_MIN), SCORE_MAX);
  // Exactly 0.5 is read as "no roadwork" by banker's rounding; make that explicit. The whole window
  // (0.5 − 1e-6, 0.5] maps to 0.5 − 1e-6 so the transform stays monotone.
  return clamped > NUDGED_HALF && clamped <= 0.5 ? NUDGED_HALF : clamped;
}

/** Model logit → calibrated probability sent to validators. */
export function calibrate(z: number, calibration: Calibration): number {
  if (Number.isNaN(z)) throw new RangeError("model produced NaN");
  return finalizeScore(sigmoid(calibratedLogit(z, calibration)));
}
