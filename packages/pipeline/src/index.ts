// @roadwork/pipeline: the retraining flywheel's steps and the state machine built from them.
export * from "./auto-rollback.ts";
export * from "./blob-store.ts";
export * from "./definition.ts";
export * from "./drift.ts";
export * from "./evaluation-record.ts";
export * from "./evaluation-set.ts";
export * from "./latest-dataset.ts";
export * from "./local.ts";
export * from "./local-runner.ts";
export * from "./mining.ts";
export * from "./mining-signals.ts";
export * from "./model-pointer.ts";
export * from "./steps.ts";
export * from "./validator-formats.ts";
