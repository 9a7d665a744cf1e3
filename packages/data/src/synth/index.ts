// Synthetic images on request: generator adapters, validator-like prompts, quality gates and the generation budget.
export * from "./batch.ts";
export * from "./bedrock.ts";
export * from "./cosmos.ts";
export * from "./dataset-output.ts";
export * from "./embedding-distance.ts";
export * from "./gates.ts";
export * from "./generator.ts";
export * from "./image-quality.ts";
export * from "./ledger.ts";
export * from "./ledger-s3.ts";
export * from "./prices.ts";
export * from "./procedural.ts";
export * from "./prompts.ts";
export * from "./report.ts";
