// A dataset store named on the command line: a local directory, or s3://bucket/prefix (credentials and region from
// the environment, as the AWS CLI reads them; this is a composition root).
import type { DatasetStore } from "@roadwork/data";

export async function openDatasetStore(location: string): Promise<DatasetStore> {
  const data = await import("@roadwork/data");
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
  if (!m) return data.localDatasetStore(location);
  const { S3Client } = await import("@aws-sdk/client-s3");
  return data.s3DatasetStore(new S3Client({}), m[1]!, m[2]!);
}
