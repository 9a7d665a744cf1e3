// Last line of defence before a score goes on the wire. Validators round at 0.5 with banker's rounding (0.5 -> "no
// roadwork"), score anything outside [0,1] as 0, and cannot parse NaN/Infinity (the whole response becomes -1).

/** Raised for a non-finite score: answering 500 is better than guessing a class. */
export class NonFiniteScoreError extends Error {
  override readonly name = "NonFiniteScoreError";
}

/** Just below 0.5, so an exact 0.5 keeps the class validators already read from it ("no roadwork"). */
export const HALF_NUDGED = 0.5 - 2 ** -20;

/** Returns a finite value in [0,1] that is never exactly 0.5. */
export function toWirePrediction(score: number): number {
  if (!Number.isFinite(score)) throw new NonFiniteScoreError(`model produced a non-finite score (${score})`);
  const clamped = Math.min(1, Math.max(0, score));
  return clamped === 0.5 ? HALF_NUDGED : clamped;
}
