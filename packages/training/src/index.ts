// @roadwork/training: embeddings, heads, metrics, thresholds, export, reports, and the validators' reward.

export { describeExportedBackbone, EXPORT_MEMBER_FILE, ExportedMemberSchema } from "./backbone-export.ts";
export {
  fetchHubBackbone,
  type HubBackbone,
  HubBackboneError,
  type HubBackboneOptions,
  variantPath,
} from "./backbone-hub.ts";
export { backbonePixels } from "./backbone-pixels.ts";
export type { BatchTarget, PixelJob, RowFeed } from "./batch-rows.ts";
export {
  interruptOnSignals,
  parseCheckpoint,
  TrainCheckpoint,
  TrainingInterrupted,
} from "./checkpoint.ts";
export {
  DEMO_HEAD,
  DEMO_SCENES,
  type DemoModel,
  type DemoOptions,
  demoBackboneInput,
  ensureDemoModel,
} from "./demo.ts";
export {
  buildDemoBackbone,
  DEMO_BACKBONE_DESCRIPTION,
  DEMO_BACKBONE_INPUT,
  DEMO_BACKBONE_OUTPUT,
  DEMO_BACKBONE_PREPROCESSING,
  DEMO_BACKBONE_SIZE,
  demoBackboneDim,
} from "./demo-backbone.ts";
export {
  type BackboneSpec,
  describeBackbone,
  EmbeddingExtractor,
  type EmbedOptions,
  type EmbedStats,
} from "./embed.ts";
export {
  type BlobStore,
  type CacheStats,
  decodeShard,
  EmbeddingCache,
  embeddingKey,
  encodeShard,
  sha256Hex,
} from "./embedding-cache.ts";
export { type BundleSpec, exportHeadOnnx, HEAD_INPUT, HEAD_OUTPUT, writeModelBundle } from "./export.ts";
export {
  decidePromotion,
  type GateDecision,
  type GateInput,
  type GateItem,
  GatePolicy,
  type ModelFigures,
  type RewardFigures,
  rewardFigures,
} from "./gate.ts";
export { renderGateMarkdown, renderGateSvg } from "./gate-report.ts";
export {
  cosineWithWarmup,
  DEFAULT_HEAD_CONFIG,
  type EpochRecord,
  type HeadConfig,
  type HeadKind,
  type HeadWeights,
  type Matrix,
  predictHead,
  type TrainResult,
  trainHead,
} from "./head.ts";
export {
  accuracy,
  type BinaryMetrics,
  bankersRound,
  binaryMetrics,
  type Confusion,
  confusion,
  f1,
  matthews,
  metricsByCategory,
  precision,
  type ReliabilityBin,
  type RocPoint,
  recall,
  reliability,
  rocAuc,
  rocCurve,
  searchThreshold,
} from "./metrics.ts";
export {
  type BackboneInput,
  challengeView,
  extractorSpec,
  type TrainRunOptions,
  type TrainRunResult,
  type TrainStage,
  trainFromDataset,
} from "./pipeline.ts";
export { ProgressBar } from "./progress.ts";
export { renderReportHtml, type TrainingReport } from "./report.ts";
export {
  ACCURACY_WINDOW,
  emaUpdate,
  HISTORY_LENGTH,
  MOVING_AVERAGE_ALPHA,
  NO_PREDICTION,
  PerformanceTracker,
  penalty,
  REWARD_CURVE_EXPONENT,
  scoreChallenge,
  sklearnRaises,
  type WindowMetrics,
} from "./reward.ts";
export { type Challenge, ChallengeSource, nativeFrame } from "./simulator/challenges.ts";
export {
  type Attacker,
  type AttackResult,
  type AttackRow,
  type ChallengeAnswer,
  type FormatRow,
  percentile,
  renderFormatMix,
  renderScoreboard,
  type Scoreboard,
  type SimulatedValidator,
  type SimulatorOptions,
  type ValidatorRow,
  ValidatorSimulator,
} from "./simulator/simulator.ts";
export { ViewPool, viewWorkersFor } from "./view-pool.ts";
