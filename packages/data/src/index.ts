// @roadwork/data: datasets and what they are made of.

export { renderNativeSceneFrame } from "./augment/native-frame.ts";
export { createRaster, crop, fromBytes, gaussianBlur, type Raster, resize, rotate, toBytes } from "./augment/raster.ts";
export {
  type AppliedAugmentation,
  type AugmentationLevel,
  applyDistortion,
  augmentForChallenge,
  augmentRaster,
  CHALLENGE_JPEG_QUALITY,
  type ChallengeImage,
  DISTORTION_PARAMETERS,
  type DistortionKind,
  decodeRaster,
  distortByLevel,
  drawLevel,
  encodeChallengeJpeg,
  randomResizedCropBox,
  TARGET_SIZE,
} from "./augment/validator-augment.ts";
export {
  CHALLENGE_FORMAT_INFO,
  CHALLENGE_FORMATS,
  type ChallengeFormat,
  DEFAULT_FORMAT_MIX,
  describeFormatMix,
  drawFormat,
  drawNativeKind,
  type FormatMix,
  type FormattedChallenge,
  formatChallenge,
  formatsOf,
  letterbox,
  letterboxAugment,
  NATIVE_FRAME_SIZES,
  type NativeKind,
  parseFormatMix,
  REAL_SHARE,
} from "./augment/validator-format.ts";
export {
  type DatasetChange,
  type DerivedVersion,
  deriveVersion,
  splitOfNewGroup,
} from "./dataset/derive.ts";
export {
  GENERATOR_NAME,
  GENERATOR_VERSION,
  type GenerateOptions,
  generateDataset,
  splitOfGroup,
} from "./dataset/generate.ts";
export { assignGroups, cosineSimilarity, type GroupingInput, phashDistance } from "./dataset/groups.ts";
export { describeImage, type ImageFacts, newRecord, sha256Hex, sniffMediaType } from "./dataset/image.ts";
export {
  type DatasetManifest,
  DatasetManifestSchema,
  type DatasetRecord,
  DatasetRecordSchema,
  type LoadedDataset,
  loadManifest,
  manifestId,
  parseManifest,
  recordPath,
  recordsOf,
  SPLITS,
  type Split,
} from "./dataset/manifest.ts";
export {
  type ImageRecord,
  ImageRecordSchema,
  isRealSource,
  LABEL_PRECEDENCE,
  LABEL_SOURCES,
  type Label,
  type LabelChange,
  LabelChangeSchema,
  type LabelSource,
  MEDIA_TYPES,
  type MediaType,
  type NewImageRecord,
  NewImageRecordSchema,
  REAL_SOURCES,
  SOURCES,
  type Source,
  type SourceDetails,
  SourceDetailsSchema,
  VALIDATOR_FORMATS,
  type ValidatorFormat,
} from "./dataset/record.ts";
export {
  canonicalJson,
  countRecords,
  type DatasetVersion,
  DatasetVersionSchema,
  DEFAULT_GROUPING_POLICY,
  DEFAULT_SPLIT_POLICY,
  describeCounts,
  type GroupingPolicy,
  parseVersion,
  type SplitPolicy,
  sealVersion,
  splitRecords,
  versionId,
} from "./dataset/version.ts";
export { loadDatasetView, versionView } from "./dataset/view.ts";
export {
  type CaptureImportOptions,
  CaptureRecordSchema,
  importCaptures,
  validatorFormatOf,
} from "./import/captures.ts";
export { CLASS_FOLDERS, type FolderImportOptions, importFolder, parseCsv } from "./import/folder.ts";
export { type HfImportOptions, importHfDataset } from "./import/hf-dataset.ts";
export {
  HubClient,
  type HubClientOptions,
  HubError,
  type HubRepoType,
  hubOptionsFromEnv,
  parseHfUri,
  type TreeEntry,
} from "./import/hub.ts";
export { migrateProceduralManifest } from "./import/migrate.ts";
export { type ImageRow, labelOf, openImageShard, type ParquetImageShard } from "./import/parquet-images.ts";
export {
  commitImport,
  describeImport,
  type ImportIssue,
  type ImportProgress,
  type ImportReport,
} from "./import/report.ts";
export {
  type BatchItem,
  BatchItemSchema,
  batchId,
  batchKey,
  type LabellingBatch,
  LabellingBatchSchema,
  latestBatch,
  loadBatch,
  saveBatch,
  TEACHER_OUTCOMES,
  type TeacherNote,
  type TeacherOutcome,
} from "./labels/batch.ts";
export {
  BedrockTeacher,
  type BedrockTeacherOptions,
  type BedrockTeacherStats,
  readAnswer,
  TEACHER_SYSTEM_PROMPT,
  TeacherAnswerSchema,
} from "./labels/bedrock-teacher.ts";
export {
  createReviewApp,
  type ReviewApp,
  type ReviewOptions,
  type ReviewResult,
  reviewQueue,
} from "./labels/review.ts";
export {
  type AbstainReason,
  EnsembleTeacher,
  type ImageScorer,
  type Teacher,
  type TeacherVerdict,
  type TeachOptions,
  type TeachResult,
  teachBatch,
} from "./labels/teacher.ts";
export {
  disagreement,
  type MinedCase,
  type MiningCandidate,
  type MiningOptions,
  MiningOptionsSchema,
  marginUncertainty,
  mineHardCases,
} from "./mining/hard-cases.ts";
export { Prng } from "./prng.ts";
export {
  composeSceneSvg,
  NEGATIVE_CATEGORIES,
  type PlanOptions,
  POSITIVE_CATEGORIES,
  planScene,
  type RenderedScene,
  renderScene,
  SCENE_CATEGORIES,
  type SceneCategory,
  type SceneConditions,
  type ScenePlan,
} from "./scene/scene.ts";
export type { BlobStore } from "./store/blobs.ts";
export {
  DatasetStore,
  imageKey,
  localDatasetStore,
  StaleParentError,
  s3DatasetStore,
  versionKey,
} from "./store/dataset-store.ts";
export { LocalBlobStore } from "./store/local.ts";
export { S3BlobStore } from "./store/s3.ts";
export * as Synth from "./synth/index.ts";
