// @roadwork/miner: the StreetVision axon (hono app + Node listener), its queue, limits, metrics and records.
export { AddressAdmission, type AdmissionPolicy, addressKey, type ShedReason } from "./admission.ts";
export { type Axon, type AxonDeps, type AxonHotkey, createAxon } from "./axon.ts";
export { Blacklist, type BlacklistDecision, type BlacklistPolicy, type Caller } from "./blacklist.ts";
export { BodyTooLargeError, readBoundedBody } from "./body.ts";
export {
  type CaptureConfig,
  type CaptureConfigInput,
  CaptureConfigSchema,
  type CaptureEnv,
  type CaptureStats,
  ChallengeCapture,
  type ChallengeFacts,
  type ChallengeSampler,
  captureEnv,
} from "./capture.ts";
export {
  CAPTURE_MEDIA_TYPES,
  type CaptureRecord,
  CaptureRecordSchema,
  captureDay,
  hasLetterboxBars,
  inspectChallengeImage,
  VALIDATOR_FORMATS,
  type ValidatorFormat,
} from "./capture-record.ts";
export { type CaptureStore, LocalCaptureStore, S3CaptureStore, type S3CaptureStoreOptions } from "./capture-store.ts";
export { type AxonConfig, type AxonConfigInput, AxonConfigSchema, parseAxonConfig } from "./config.ts";
export { ConnectionGuard, type ConnectionLimits } from "./connection-guard.ts";
export { DeadlineExceededError, RequestDeadline } from "./deadline.ts";
export {
  checkFleet,
  type FleetAxon,
  type FleetMember,
  type HotkeyFleetDeps,
  type RunningFleet,
  startHotkeyFleet,
} from "./hotkey-fleet.ts";
export { type ImageSize, imageSize } from "./image-size.ts";
export { type AxonLogger, createJsonLogger, type LogLevel, silentLogger } from "./logger.ts";
export { type MetagraphSource, SwappableMetagraph } from "./metagraph-source.ts";
export { AxonMetrics } from "./metrics.ts";
export { HALF_NUDGED, NonFiniteScoreError, toWirePrediction } from "./prediction-guard.ts";
export { PredictionDispatcher, type PredictionRecord, type PredictionSink } from "./prediction-sink.ts";
export { PriorityGate, QueueFullError } from "./priority-gate.ts";
export { HotkeyRateLimiter, type RateLimitPolicy } from "./rate-limit.ts";
export { type RunningAxon, startAxon } from "./server.ts";
