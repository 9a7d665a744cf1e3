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
      preds.push(bankersRound(p));
      labels.push(this.#labels[i]!);
    }
    if (preds.length === 0) return { accuracy: 0, mcc: 0, count: 0 };
    let ok = 0;
    for (let i = 0; i < preds.length; i++) if (preds[i] === labels[i]) ok++;
    // MCC counts only when both labels and both predicted classes occur in the window, and never below 0.
    const bothLabels = new Set(labels).size > 1;
    const bothPredictions = new Set(preds).size > 1;
    const mcc = bothLabels && bothPredictions ? Math.max(0, matthews(preds, labels)) : 0;
    return { accuracy: ok / preds.length, mcc, count: preds.length };
  }
}

/** 0 outside [0, 1] (natix `compute_penalty`). */
export function penalty(prediction: number): number {
  return prediction < 0 || prediction > 1 ? 0 : 1;
}

/**
 * Records one challenge result and returns its reward: 0 for -1, else
 * ((0.5·MCC₁₀₀ + 0.5·acc₁₀) · penalty)³.
 */
export function scoreChallenge(
  tracker: PerformanceTracker,
  prediction: number,
  label: number,
  hotkey?: string,
): number {
  const p = Number.isFinite(prediction) ? prediction : NO_PREDICTION;
  tracker.update(p, label, hotkey);
  if (p === NO_PREDICTION) return 0;
  const m100 = tracker.metrics(HISTORY_LENGTH);
  const m10 = tracker.metrics(ACCURACY_WINDOW);
  const base = (0.5 * m100.mcc + 0.5 * m10.accuracy) * penalty(p);
  return base ** REWARD_CURVE_EXPONENT;
}

/** The validator's score for the miner: scores = α·reward + (1 − α)·scores. */
export function emaUpdate(previous: number, reward: number, alpha: number = MOVING_AVERAGE_ALPHA): number {
  return alpha * reward + (1 - alpha) * previous;
}
