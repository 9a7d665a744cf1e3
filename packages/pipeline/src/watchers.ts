// The light entry point for Lambdas that watch the served model (drift check, automatic rollback): the pointer, the
// S3 store, drift and rollback, without the training and inference code (and its native modules) of the full index.
export * from "./auto-rollback.ts";
export { S3Store } from "./blob-store.ts";
export * from "./drift.ts";
export * from "./model-pointer.ts";
