// The StreetVision validators' reward for one miner, reproduced (natix `get_rewards`, `MinerPerformanceTracker`):
// a deque of the last 100 (prediction, label) pairs, MCC over 100 and accuracy over the last 10, cubed; then an
// exponential moving average per miner. Used by the validator simulator to show what a real validator would score.
import { bankersRound, matthews } from "./metrics.ts";

export const HISTORY_LENGTH = 100;
export const ACCURACY_WINDOW = 10;
export const REWARD_CURVE_EXPONENT = 3;
export const MOVING_AVERAGE_ALPHA = 0.05;
/** What a validator records when the miner did not answer (timeout, error, no prediction). */
export const NO_PREDICTION = -1;

export interface WindowMetrics {
  accuracy: number;
  mcc: number;
  /** Entries that counted (the -1 entries are dropped inside the window). */
  count: number;
  /** sklearn raised on this window (a third class or a non-finite prediction), so the validator zeroed it. */
  invalid?: true;
}

/** One miner's history as one validator keeps it. */
export class PerformanceTracker {
  #predictions: number[] = [];
  #labels: number[] = [];
  #hotkey: string | undefined;

  /** Appends a result; a new hotkey on the uid resets the history, as the validators do. */
  update(prediction: number, label: number, hotkey?: string): void {
    if (hotkey !== undefined && this.#hotkey !== undefined && hotkey !== this.#hotkey) {
      this.#predictions = [];
      this.#labels = [];
    }
    if (hotkey !== undefined) this.#hotkey = hotkey;
    this.#predictions.push(prediction);
    this.#labels.push(label);
    if (this.#predictions.length > HISTORY_LENGTH) {
      this.#predictions.shift();
      this.#labels.shift();
    }
  }

  get size(): number {
    return this.#predictions.length;
  }

  /** Metrics over the last `window` entries, with -1 predictions dropped (natix `get_metrics`). */
  metrics(window: number = HISTORY_LENGTH): WindowMetrics {
    const start = Math.max(0, this.#predictions.length - window);
    const preds: number[] = [];
    const labels: number[] = [];
    for (let i = start; i < this.#predictions.length; i++) {
      const p = this.#predictions[i]!;
      if (p === NO_PREDICTION) continue;
      preds.push(p);
      labels.push(this.#labels[i]!);
    }
    if (preds.length === 0) return { accuracy: 0, mcc: 0, count: 0 };
    const rounded = preds.map(bankersRound);
    // The validator computes accuracy, precision, recall, F1, MCC and AUC inside one try block and returns all-zero
    // metrics when sklearn raises; the window then scores nothing until the offending entry leaves it.
    if (sklearnRaises(preds, rounded, labels)) return { accuracy: 0, mcc: 0, count: preds.length, invalid: true };
    let ok = 0;
    for (let i = 0; i < rounded.length; i++) if (rounded[i] === labels[i]) ok++;
    // MCC counts only when both labels occur in the window (sklearn gives 0 for one predicted class), never below 0.
    const mcc = new Set(labels).size > 1 ? Math.max(0, matthews(rounded, labels)) : 0;
    return { accuracy: ok / rounded.length, mcc, count: rounded.length };
  }
}

/**
 * Whether sklearn raises on this window (natix `get_metrics` calls accuracy_score, then precision_score with the
 * default average="binary", pos_label=1):
 * - a non-finite prediction: `type_of_target` rejects NaN/±Inf ("Input contains NaN");
 * - labels ∪ rounded predictions hold more than two values: the target is multiclass and average="binary" raises
 *   (a prediction ≥ 1.5 rounds to 2, one below −0.5 rounds to −1 or less; −1 itself was dropped before);
 * - exactly two values without 1: pos_label=1 is not a valid label (e.g. all labels 0, predictions 0 and 2).
 * Two values that include 1 (labels all 1, predictions 1 and 2) do not raise: accuracy just counts the 2s as wrong.
 */
export function sklearnRaises(
  preds: readonly number[],
  rounded: readonly number[],
  labels: readonly number[],
): boolean {
  if (preds.some((p) => !Number.isFinite(p))) return true;
  // −0 (from −0.5) and 0 are one class for numpy's unique.
  const present = new Set([...labels, ...rounded].map((v) => (v === 0 ? 0 : v)));
  if (present.size > 2) return true;
  return present.size === 2 && !present.has(1);
}

/** 0 outside [0, 1] (natix `compute_penalty`); NaN compares false both ways, so it is not penalized here. */
export function penalty(prediction: number): number {
  return prediction < 0 || prediction > 1 ? 0 : 1;
}

/**
 * Records one challenge result and returns its reward: 0 for -1, else ((0.5·MCC₁₀₀ + 0.5·acc₁₀) · penalty)³,
 * where a window on which sklearn raises counts as MCC 0 and accuracy 0.
 */
export function scoreChallenge(
  tracker: PerformanceTracker,
  prediction: number,
  label: number,
  hotkey?: string,
): number {
  // Kept as sent, NaN included: the validator stores whatever float arrived, and a NaN poisons every window
  // holding it (see sklearnRaises), which is exactly what a miner must learn from the simulator.
  tracker.update(prediction, label, hotkey);
  if (prediction === NO_PREDICTION) return 0;
  const m100 = tracker.metrics(HISTORY_LENGTH);
  const m10 = tracker.metrics(ACCURACY_WINDOW);
  const base = (0.5 * m100.mcc + 0.5 * m10.accuracy) * penalty(prediction);
  return base ** REWARD_CURVE_EXPONENT;
}

/** The validator's score for the miner: scores = α·reward + (1 − α)·scores. */
export function emaUpdate(previous: number, reward: number, alpha: number = MOVING_AVERAGE_ALPHA): number {
  return alpha * reward + (1 - alpha) * previous;
}
