// @roadwork/inference public API.

export type { OnnxFileOptions } from "./bundle/local.ts";
export {
  bundleFromOnnxFile,
  readBundleDir,
  sha256Bytes,
  sha256File,
  verifyBundleFiles,
  writeBundle,
} from "./bundle/local.ts";
export type { Manifest, ManifestDraft, ManifestInput, Member, MemberDraft, MemberInput } from "./bundle/manifest.ts";
export {
  BundleError,
  bundleVersion,
  MANIFEST_FILE,
  ManifestSchema,
  MemberSchema,
  manifestFiles,
  parseManifest,
} from "./bundle/manifest.ts";
export { defaultCacheDir, parseRemoteSource, type RemoteSource } from "./bundle/remote.ts";
export type { Calibration } from "./calibration.ts";
export {
  CalibrationSchema,
  calibrate,
  calibratedLogit,
  finalizeScore,
  logit,
  SCORE_MAX,
  SCORE_MIN,
  sigmoid,
} from "./calibration.ts";
export type { EngineOptions, EngineStats, LocalBundle } from "./engine.ts";
export { EngineClosedError, ModelOutputError, OnnxScorer } from "./engine.ts";
export { fromHalf, toHalfArray } from "./fp16.ts";
export type { HostStats, ModelHostOptions, ReloadResult, WatchHandle } from "./host.ts";
export { ModelHost, pollModelSource, reloadOnSighup, watchModelSource } from "./host.ts";
export type { DecodeOptions, DecodePlan, RgbImage } from "./image/decode.ts";
export {
  ACCEPTED_FORMATS,
  DEFAULT_MAX_PIXELS,
  DEFAULT_MIN_SIDE,
  decodedPixels,
  decodeImage,
  inspectImage,
  planDecode,
  SHRINK_ON_LOAD_GAP,
} from "./image/decode.ts";
export { HASH_SLICE_BYTES, imageSha256 } from "./image/hash.ts";
export type { ImageHeader } from "./image/header.ts";
export { displaySize, readImageHeader } from "./image/header.ts";
export type { JpegFastPathStats } from "./image/jpeg-fast-path.ts";
export { JpegDecoderChoice, jpegFastPathStats } from "./image/jpeg-fast-path.ts";
export type { PixelTensor, Preprocessing, PreprocessingInput } from "./image/preprocess.ts";
export {
  affine,
  centerCrop,
  geometry,
  hflip,
  IMAGENET_DEFAULT_MEAN,
  IMAGENET_DEFAULT_STD,
  letterboxFill,
  letterboxSize,
  outputSize,
  PreprocessingSchema,
  parsePreprocessing,
  preprocess,
  resizeTarget,
  shortestEdgeSize,
  writeHwc,
  writeNormalized,
} from "./image/preprocess.ts";
export { RESAMPLE, resizeRgb } from "./image/resample.ts";
export type { LoadOptions } from "./load.ts";
export { loadScorer, resolveLocalModel } from "./load.ts";
export { PIXEL_INPUT } from "./member.ts";
export type {
  AttributeInput,
  AttributeValue,
  Dim,
  ElemType,
  ModelOptions,
  TensorData,
  TensorValue,
} from "./onnx/model.ts";
export { attr, ELEM_TYPES, encodeTensor, GraphBuilder } from "./onnx/model.ts";
export type { PixelInputOptions } from "./onnx/pixel-input.ts";
export { graphInput, withPixelInput } from "./onnx/pixel-input.ts";
export type { TinyClassifierOptions } from "./onnx/tiny-classifier.ts";
export {
  buildTinyClassifier,
  seededRandom,
  tinyClassifierReference,
  writeTinyClassifier,
} from "./onnx/tiny-classifier.ts";
export { POOLINGS, type Pooling, PoolingSchema, poolEmbedding } from "./pooling.ts";
export type { ScoreOptions, ScoreResult, Scorer } from "./scorer.ts";
export { ImageInputError } from "./scorer.ts";
export type { CreatedSession, Device, ExecutionProviderChoice, Logger, SessionOptions } from "./session.ts";
export {
  AUTO_ORDER,
  consoleLogger,
  createSession,
  deviceAvailable,
  EXECUTION_PROVIDERS,
  silentLogger,
} from "./session.ts";
