// Buckets the miner lives on: model bundles (versioned, so a bad promotion can be rolled back), datasets
// (immutable manifests + images), and prediction logs (raw records expire; they feed hard-case mining only).
// All private, SSE-S3 encrypted, TLS-only, with server access logs in a separate bucket.
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as ecr from "aws-cdk-lib/aws-ecr";
import * as s3 from "aws-cdk-lib/aws-s3";
import { NagSuppressions } from "cdk-nag";
import type { StackContext } from "sst/constructs";
import { resourceNames, stageConfigFor } from "./config.ts";

/** Axon images kept in the stage's repository (the running one and a few to roll back to). */
export const AXON_IMAGES_KEPT = 5;

import { suppressSstStackHandler } from "./nag.ts";

/** Prefix of raw prediction records inside the predictions bucket (the 30-day expiry applies here). */
export const RAW_PREDICTIONS_PREFIX = "raw/";
/** Prefix of hard-case images kept from challenges (kept longer: they become training data). */
export const HARD_CASES_PREFIX = "hard-cases/";

export function Storage({ stack, app }: StackContext) {
  const config = stageConfigFor(app);

  const privateBucket = {
    encryption: s3.BucketEncryption.S3_MANAGED,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy: RemovalPolicy.RETAIN,
  } satisfies s3.BucketProps;

  // Object ownership left to CDK: with the serverAccessLogsUseBucketPolicy flag (cdk.json) logging is granted by
  // bucket policy; without it CDK needs the LogDeliveryWrite ACL and ObjectWriter ownership.
  const { objectOwnership: _ownership, ...logBucket } = privateBucket;
  const accessLogs = new s3.Bucket(stack, "AccessLogs", {
    ...logBucket,
    lifecycleRules: [{ id: "expire-access-logs", expiration: Duration.days(90) }],
  });
  NagSuppressions.addResourceSuppressions(accessLogs, [
    {
      id: "AwsSolutions-S1",
      reason: "This is the server access log destination; logging it into itself would loop.",
    },
  ]);

  const models = new s3.Bucket(stack, "Models", {
    ...privateBucket,
    versioned: true,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: "models/",
    lifecycleRules: [
      // Old bundle versions stay restorable for a quarter, then go.
      { id: "expire-noncurrent-bundles", noncurrentVersionExpiration: Duration.days(90) },
      { id: "abort-multipart", abortIncompleteMultipartUploadAfter: Duration.days(7) },
    ],
  });

  const datasets = new s3.Bucket(stack, "Datasets", {
    ...privateBucket,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: "datasets/",
    lifecycleRules: [{ id: "abort-multipart", abortIncompleteMultipartUploadAfter: Duration.days(7) }],
  });

  const predictions = new s3.Bucket(stack, "Predictions", {
    ...privateBucket,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: "predictions/",
    lifecycleRules: [
      {
        id: "expire-raw-prediction-logs",
        prefix: RAW_PREDICTIONS_PREFIX,
        expiration: Duration.days(config.predictionLogExpiryDays),
      },
      { id: "abort-multipart", abortIncompleteMultipartUploadAfter: Duration.days(1) },
    ],
  });

  // The axon image lives in the stage's own repository (pushed by `npm run image`), not in CDK's shared asset
  // repository: a lifecycle rule keeps the last few images instead of every ~2-4 GB build forever.
  const axonImages = new ecr.Repository(stack, "AxonImages", {
    repositoryName: resourceNames(config).axonRepository,
    imageScanOnPush: true,
    imageTagMutability: ecr.TagMutability.IMMUTABLE,
    encryption: ecr.RepositoryEncryption.AES_256,
    // Images are rebuilt from the repository; nothing in them is worth keeping after `sst remove`.
    removalPolicy: RemovalPolicy.DESTROY,
    emptyOnDelete: true,
    lifecycleRules: [
      {
        description: "drop untagged layers of interrupted pushes",
        tagStatus: ecr.TagStatus.UNTAGGED,
        maxImageAge: Duration.days(1),
        rulePriority: 1,
      },
      {
        description: `keep the last ${AXON_IMAGES_KEPT} images`,
        tagStatus: ecr.TagStatus.ANY,
        maxImageCount: AXON_IMAGES_KEPT,
        rulePriority: 2,
      },
    ],
  });

  suppressSstStackHandler(stack);
  stack.addOutputs({
    AxonImageRepository: axonImages.repositoryUri,
    ModelsBucket: models.bucketName,
    DatasetsBucket: datasets.bucketName,
    PredictionsBucket: predictions.bucketName,
  });

  return { models, datasets, predictions, accessLogs, axonImages };
}
