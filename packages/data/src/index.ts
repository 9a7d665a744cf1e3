// @roadwork/data: datasets and what they are made of.

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
  drawLevel,
  randomResizedCropBox,
  TARGET_SIZE,
} from "./augment/validator-augment.ts";
export {
  GENERATOR_NAME,
  GENERATOR_VERSION,
  type GenerateOptions,
  generateDataset,
  splitOfGroup,
} from "./dataset/generate.ts";
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
