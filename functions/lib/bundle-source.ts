// Reads a promoted model bundle (every object under an S3 prefix) into memory for publishing.
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { BundleFile } from "@roadwork/lifecycle";

/** Hugging Face's single-file limit without Xet is 50 GB; a Lambda holds far less. Fail clearly instead of OOM. */
export const MAX_BUNDLE_BYTES = 1_500_000_000;

export async function downloadBundle(s3: S3Client, bucket: string, prefix: string): Promise<BundleFile[]> {
  if (!prefix.endsWith("/")) throw new Error(`bundle prefix must end with "/": ${prefix}`);
  const keys: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? [])
      if (o.Key && !o.Key.endsWith("/")) keys.push({ key: o.Key, size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (keys.length === 0) throw new Error(`no bundle at s3://${bucket}/${prefix}`);
  const total = keys.reduce((n, k) => n + k.size, 0);
  if (total > MAX_BUNDLE_BYTES)
    throw new Error(`bundle at s3://${bucket}/${prefix} is ${total} bytes, over ${MAX_BUNDLE_BYTES}`);
  return Promise.all(
    keys.map(async ({ key }) => {
      const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = await res.Body?.transformToByteArray();
      if (!bytes) throw new Error(`empty body for s3://${bucket}/${key}`);
      return { path: key.slice(prefix.length), content: bytes };
    }),
  );
}
