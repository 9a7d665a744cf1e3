// Small classification heads on frozen embeddings, trained in TypeScript: logistic regression or a one-hidden-layer
// MLP, weighted binary cross-entropy (class balancing), AdamW, cosine schedule with linear warmup, early stopping
// on validation loss (the best epoch's weights are kept). A retrain can start from the champion's head (same
// backbone, same shape): the data changed by a few percent, so a short schedule from there reaches what a full one
// from a random draw does, at a fraction of the epochs.
import { Prng } from "@roadwork/data";

export interface Matrix {
  rows: number;
  cols: number;
  /** Row-major. */
  data: Float32Array;
}

export type HeadKind = "logistic" | "mlp";

export interface HeadConfig {
  kind: HeadKind;
  /** Hidden units of the MLP (ignored for logistic). */
  hidden: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  warmupEpochs: number;
  /** Epochs without a validation-loss improvement before stopping. */
  patience: number;
  /** Weight the classes so both contribute equally to the loss. */
  balanceClasses: boolean;
  seed: number;
}

export const DEFAULT_HEAD_CONFIG: HeadConfig = {
  kind: "mlp",
  hidden: 64,
  epochs: 120,
  batchSize: 64,
  learningRate: 2e-3,
  weightDecay: 1e-2,
  warmupEpochs: 3,
  patience: 15,
  balanceClasses: true,
  seed: 1,
};

/** Trained parameters. Standardization (mean/std) is part of the head so the exported graph takes raw embeddings. */
export interface HeadWeights {
  kind: HeadKind;
  inputDim: number;
  hidden: number;
  mean: Float32Array;
  std: Float32Array;
  /** logistic: [1 × D]; mlp: [H × D] (first layer). */
  w1: Float32Array;
  b1: Float32Array;
  /** mlp only: [1 × H]. */
  w2: Float32Array;
  b2: Float32Array;
}

export interface EpochRecord {
  epoch: number;
  learningRate: number;
  trainLoss: number;
  valLoss: number;
  valAccuracy: number;
}

export interface TrainResult {
  weights: HeadWeights;
  history: EpochRecord[];
  /** The epoch whose weights were kept; -1: the warm start's own weights (no epoch improved on them). */
  bestEpoch: number;
  stoppedEarly: boolean;
  /** With TrainOptions.warmStart: whether it was taken, and its validation loss before any epoch. */
  warmStart?: { used: boolean; valLoss: number; reason?: string };
}

/**
 * A head to start from, re-expressed in this training set's standardization (the function of the raw embedding is
 * unchanged): first layer W·(x − μ)/σ + b  ==  W'·(x − μ')/σ' + b'  with  W' = W·σ'/σ,  b' = b − Σ W·(μ − μ')/σ.
 */
export function restandardize(w: HeadWeights, mean: Float32Array, std: Float32Array): HeadWeights {
  const D = w.inputDim;
  const rows = w.kind === "mlp" ? w.hidden : 1;
  const w1 = new Float32Array(rows * D);
  const b1 = new Float32Array(rows);
  for (let j = 0; j < rows; j++) {
    let shift = 0;
    for (let c = 0; c < D; c++) {
      const v = w.w1[j * D + c]! / w.std[c]!;
      w1[j * D + c] = v * std[c]!;
      shift += v * (w.mean[c]! - mean[c]!);
    }
    b1[j] = w.b1[j]! - shift;
  }
  return { ...w, mean, std, w1, b1, w2: w.w2.slice(), b2: w.b2.slice() };
}

/** Learning rate at a (fractional) epoch: linear warmup, then cosine decay to 0. */
export function cosineWithWarmup(
  epoch: number,
  config: Pick<HeadConfig, "learningRate" | "warmupEpochs" | "epochs">,
): number {
  const { learningRate: lr, warmupEpochs: warm, epochs } = config;
  if (warm > 0 && epoch < warm) return (lr * (epoch + 1)) / (warm + 1);
  const t = Math.min(1, (epoch - warm) / Math.max(1, epochs - warm));
  return 0.5 * lr * (1 + Math.cos(Math.PI * t));
}

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
/** log(1 + e^z) without overflow. */
const softplus = (z: number): number => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));

function standardize(x: Matrix): { mean: Float32Array; std: Float32Array } {
  const mean = new Float32Array(x.cols);
  const std = new Float32Array(x.cols);
  for (let r = 0; r < x.rows; r++) for (let c = 0; c < x.cols; c++) mean[c] = mean[c]! + x.data[r * x.cols + c]!;
  for (let c = 0; c < x.cols; c++) mean[c]! /= Math.max(1, x.rows);
  for (let r = 0; r < x.rows; r++) {
    for (let c = 0; c < x.cols; c++) {
      const d = x.data[r * x.cols + c]! - mean[c]!;
      std[c]! += d * d;
    }
  }
  for (let c = 0; c < x.cols; c++) std[c] = Math.max(1e-4, Math.sqrt(std[c]! / Math.max(1, x.rows)));
  return { mean, std };
}

function normalized(x: Matrix, mean: Float32Array, std: Float32Array): Float32Array {
  const out = new Float32Array(x.data.length);
  for (let r = 0; r < x.rows; r++) {
    for (let c = 0; c < x.cols; c++) out[r * x.cols + c] = (x.data[r * x.cols + c]! - mean[c]!) / std[c]!;
  }
  return out;
}

/** Σ a[ao + c]·b[bo + c] over n: four running sums, so the loop is not one long dependency chain. */
function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let c = 0;
  for (; c + 3 < n; c += 4) {
    s0 += a[ao + c]! * b[bo + c]!;
    s1 += a[ao + c + 1]! * b[bo + c + 1]!;
    s2 += a[ao + c + 2]! * b[bo + c + 2]!;
    s3 += a[ao + c + 3]! * b[bo + c + 3]!;
  }
  for (; c < n; c++) s0 += a[ao + c]! * b[bo + c]!;
  return s0 + s1 + (s2 + s3);
}

/** y[yo + c] += alpha · x[xo + c] over n. */
function axpy(alpha: number, x: Float32Array, xo: number, y: Float32Array, yo: number, n: number): void {
  let c = 0;
  for (; c + 3 < n; c += 4) {
    y[yo + c] = y[yo + c]! + alpha * x[xo + c]!;
    y[yo + c + 1] = y[yo + c + 1]! + alpha * x[xo + c + 1]!;
    y[yo + c + 2] = y[yo + c + 2]! + alpha * x[xo + c + 2]!;
    y[yo + c + 3] = y[yo + c + 3]! + alpha * x[xo + c + 3]!;
  }
  for (; c < n; c++) y[yo + c] = y[yo + c]! + alpha * x[xo + c]!;
}

/** The head's logit for every row of an already standardized matrix. */
function forwardLogits(w: HeadWeights, xs: Float32Array, rows: number, hiddenOut?: Float32Array): Float32Array {
  const D = w.inputDim;
  const out = new Float32Array(rows);
  const w1 = w.w1;
  if (w.kind === "logistic") {
    const b = w.b1[0]!;
    for (let r = 0; r < rows; r++) out[r] = b + dot(w1, 0, xs, r * D, D);
    return out;
  }
  const H = w.hidden;
  const { b1, w2 } = w;
  const h = hiddenOut ?? new Float32Array(rows * H);
  for (let r = 0; r < rows; r++) {
    let z = w.b2[0]!;
    const xo = r * D;
    for (let j = 0; j < H; j++) {
      let a = b1[j]! + dot(w1, j * D, xs, xo, D);
      a = a > 0 ? a : 0;
      h[r * H + j] = a;
      z += w2[j]! * a;
    }
    out[r] = z;
  }
  return out;
}

/** Probabilities for raw (unstandardized) embeddings: what the exported ONNX head computes. */
export function predictHead(w: HeadWeights, x: Matrix): Float32Array {
  const logits = forwardLogits(w, normalized(x, w.mean, w.std), x.rows);
  return logits.map(sigmoid);
}

function weightedLoss(logits: Float32Array, y: readonly number[], sampleWeight: Float32Array): number {
  let loss = 0;
  let wsum = 0;
  for (let i = 0; i < logits.length; i++) {
    const z = logits[i]!;
    // BCE with logits: y·softplus(−z) + (1−y)·softplus(z)
    loss += sampleWeight[i]! * (y[i] === 1 ? softplus(-z) : softplus(z));
    wsum += sampleWeight[i]!;
  }
  return wsum === 0 ? 0 : loss / wsum;
}

/** Mean of the true positive and true negative rates at logit 0: 0.5 for a coin flip, below for a flipped head. */
function balancedAccuracy(logits: Float32Array, y: readonly number[]): number {
  const hit = [0, 0];
  const count = [0, 0];
  logits.forEach((z, i) => {
    const label = y[i] === 1 ? 1 : 0;
    count[label]!++;
    if ((z > 0 ? 1 : 0) === label) hit[label]!++;
  });
  const rates = [0, 1].filter((c) => count[c]! > 0).map((c) => hit[c]! / count[c]!);
  return rates.reduce((a, b) => a + b, 0) / Math.max(1, rates.length);
}

function classWeights(y: readonly number[], balance: boolean): Float32Array {
  const pos = y.filter((v) => v === 1).length;
  const neg = y.length - pos;
  const wp = balance && pos > 0 ? y.length / (2 * pos) : 1;
  const wn = balance && neg > 0 ? y.length / (2 * neg) : 1;
  return Float32Array.from(y, (v) => (v === 1 ? wp : wn));
}

interface AdamState {
  m: Float32Array;
  v: Float32Array;
}

function adamwStep(
  param: Float32Array,
  grad: Float32Array,
  state: AdamState,
  lr: number,
  t: number,
  weightDecay: number,
): void {
  const b1 = 0.9;
  const b2 = 0.999;
  const eps = 1e-8;
  const c1 = 1 - b1 ** t;
  const c2 = 1 - b2 ** t;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i]!;
    state.m[i] = b1 * state.m[i]! + (1 - b1) * g;
    state.v[i] = b2 * state.v[i]! + (1 - b2) * g * g;
    // Decoupled weight decay (AdamW): shrink the weight directly, not through the gradient.
    param[i] = param[i]! * (1 - lr * weightDecay) - (lr * (state.m[i]! / c1)) / (Math.sqrt(state.v[i]! / c2) + eps);
  }
}

const adam = (n: number): AdamState => ({ m: new Float32Array(n), v: new Float32Array(n) });

export interface TrainOptions {
  onEpoch?: (record: EpochRecord, config: HeadConfig) => void;
  /**
   * Start from these weights (e.g. the champion's head on the same backbone) instead of a random draw, for
   * `epochs` epochs (the config's count otherwise). Taken only when the shape matches and the head does better on
   * this validation set than a coin flip (balanced accuracy > 0.5); otherwise the run starts cold with the full
   * schedule.
   */
  warmStart?: { weights: HeadWeights; epochs?: number; patience?: number };
}

export function trainHead(
  train: { x: Matrix; y: readonly number[] },
  val: { x: Matrix; y: readonly number[] },
  partial: Partial<HeadConfig> = {},
  options: TrainOptions = {},
): TrainResult {
  const requested: HeadConfig = { ...DEFAULT_HEAD_CONFIG, ...partial };
  const D = train.x.cols;
  if (val.x.cols !== D) throw new RangeError(`validation embeddings have ${val.x.cols} dims, training ${D}`);
  if (train.x.rows === 0 || val.x.rows === 0) throw new RangeError("training and validation sets must not be empty");
  const { mean, std } = standardize(train.x);
  const xs = normalized(train.x, mean, std);
  const xv = normalized(val.x, mean, std);
  const rng = new Prng(`head:${requested.seed}`);
  const H = requested.kind === "mlp" ? requested.hidden : 1;
  const init = (n: number, fanIn: number): Float32Array =>
    Float32Array.from({ length: n }, () => rng.gaussian() * Math.sqrt(2 / fanIn));
  const drawn: HeadWeights = {
    kind: requested.kind,
    inputDim: D,
    hidden: requested.kind === "mlp" ? H : 0,
    mean,
    std,
    w1: requested.kind === "mlp" ? init(H * D, D) : new Float32Array(D),
    b1: new Float32Array(H),
    w2: requested.kind === "mlp" ? init(H, H).map((v) => v * 0.5) : new Float32Array(0),
    b2: new Float32Array(requested.kind === "mlp" ? 1 : 0),
  };
  const trainW = classWeights(train.y, requested.balanceClasses);
  const valW = classWeights(val.y, requested.balanceClasses);
  let warmStart: TrainResult["warmStart"];
  let weights = drawn;
  let schedule = requested;
  if (options.warmStart) {
    const from = options.warmStart.weights;
    const shape = from.kind === drawn.kind && from.inputDim === D && from.hidden === drawn.hidden;
    const start = shape ? restandardize(from, mean, std) : undefined;
    const logits = start ? forwardLogits(start, xv, val.x.rows) : undefined;
    const valLoss = logits ? weightedLoss(logits, val.y, valW) : Number.NaN;
    const balanced = logits ? balancedAccuracy(logits, val.y) : Number.NaN;
    if (start && balanced > 0.5) {
      weights = start;
      schedule = {
        ...requested,
        // Never longer than the schedule asked for.
        epochs: Math.min(requested.epochs, options.warmStart.epochs ?? requested.epochs),
        patience: options.warmStart.patience ?? requested.patience,
        // Already trained: no warmup from a near-zero rate.
        warmupEpochs: 0,
      };
      warmStart = { used: true, valLoss };
    } else {
      warmStart = {
        used: false,
        valLoss,
        reason: shape
          ? `balanced accuracy ${balanced.toFixed(3)} on validation is no better than a coin flip`
          : "different shape",
      };
    }
  }
  return fit(train, val, { xs, xv, trainW, valW, rng }, weights, schedule, warmStart, options);
}

/** The epochs themselves, from `weights` (drawn or warm) on the standardized sets. */
function fit(
  train: { x: Matrix; y: readonly number[] },
  val: { x: Matrix; y: readonly number[] },
  prepared: { xs: Float32Array; xv: Float32Array; trainW: Float32Array; valW: Float32Array; rng: Prng },
  weights: HeadWeights,
  config: HeadConfig,
  warmStart: TrainResult["warmStart"],
  options: TrainOptions,
): TrainResult {
  const { xs, xv, trainW, valW, rng } = prepared;
  const D = weights.inputDim;
  const H = weights.kind === "mlp" ? weights.hidden : 1;
  const logistic = weights.kind === "logistic";
  const params = [weights.w1, weights.b1, weights.w2, weights.b2];
  const decays = [config.weightDecay, 0, config.weightDecay, 0];
  const states = params.map((p) => adam(p.length));
  const grads = params.map((p) => new Float32Array(p.length));
  const [gW1, gB1, gW2, gB2] = grads as [Float32Array, Float32Array, Float32Array, Float32Array];
  const w2 = weights.w2;
  const order = Array.from({ length: train.x.rows }, (_, i) => i);
  const history: EpochRecord[] = [];
  // A warm start's own weights are the first candidate: a retrain never ends worse on validation than its start.
  let best = {
    loss: warmStart?.used ? warmStart.valLoss : Number.POSITIVE_INFINITY,
    epoch: -1,
    params: params.map((p) => p.slice()),
  };
  let step = 0;
  let stoppedEarly = false;
  const batchX = new Float32Array(config.batchSize * D);
  const hidden = new Float32Array(config.batchSize * H);
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const lr = cosineWithWarmup(epoch, config);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let trainLoss = 0;
    let trainWeight = 0;
    for (let start = 0; start < order.length; start += config.batchSize) {
      const rows = Math.min(config.batchSize, order.length - start);
      for (let r = 0; r < rows; r++) batchX.set(xs.subarray(order[start + r]! * D, (order[start + r]! + 1) * D), r * D);
      const logits = forwardLogits(weights, batchX, rows, hidden);
      for (const g of grads) g.fill(0);
      let wsum = 0;
      for (let r = 0; r < rows; r++) wsum += trainW[order[start + r]!]!;
      for (let r = 0; r < rows; r++) {
        const idx = order[start + r]!;
        const z = logits[r]!;
        const y = train.y[idx] === 1 ? 1 : 0;
        const sw = trainW[idx]! / wsum;
        trainLoss += trainW[idx]! * (y === 1 ? softplus(-z) : softplus(z));
        trainWeight += trainW[idx]!;
        const dz = (sigmoid(z) - y) * sw;
        const xo = r * D;
        if (logistic) {
          axpy(dz, batchX, xo, gW1, 0, D);
          gB1[0]! += dz;
        } else {
          gB2[0]! += dz;
          for (let j = 0; j < H; j++) {
            const a = hidden[r * H + j]!;
            gW2[j]! += dz * a;
            if (a <= 0) continue;
            const dh = dz * w2[j]!;
            gB1[j]! += dh;
            axpy(dh, batchX, xo, gW1, j * D, D);
          }
        }
      }
      step++;
      for (let k = 0; k < params.length; k++) {
        if (params[k]!.length > 0) adamwStep(params[k]!, grads[k]!, states[k]!, lr, step, decays[k]!);
      }
    }
    const valLogits = forwardLogits(weights, xv, val.x.rows);
    const valLoss = weightedLoss(valLogits, val.y, valW);
    let ok = 0;
    valLogits.forEach((z, i) => {
      if ((z > 0 ? 1 : 0) === val.y[i]) ok++;
    });
    const record: EpochRecord = {
      epoch,
      learningRate: lr,
      trainLoss: trainWeight === 0 ? 0 : trainLoss / trainWeight,
      valLoss,
      valAccuracy: ok / val.x.rows,
    };
    history.push(record);
    options.onEpoch?.(record, config);
    if (valLoss < best.loss - 1e-5) best = { loss: valLoss, epoch, params: params.map((p) => p.slice()) };
    else if (epoch - best.epoch >= config.patience) {
      stoppedEarly = true;
      break;
    }
  }
  for (const [k, p] of best.params.entries()) params[k]!.set(p);
  return { weights, history, bestEpoch: best.epoch, stoppedEarly, ...(warmStart ? { warmStart } : {}) };
}
