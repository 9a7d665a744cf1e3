// Blobs as S3 objects under a prefix, through an injected S3Client (AWS, or an emulator in tests and local mode).
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { BlobStore } from "./blobs.ts";

const missing = (error: unknown): boolean => {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404;
};

export class S3BlobStore implements BlobStore {
  readonly location: string;
  readonly #prefix: string;
  constructor(
    readonly s3: S3Client,
    readonly bucket: string,
    prefix = "",
  ) {
    this.#prefix = prefix && !prefix.endsWith("/") ? `${prefix}/` : prefix;
    this.location = `s3://${bucket}/${this.#prefix}`;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.#prefix + key }));
      return await res.Body!.transformToByteArray();
    } catch (error) {
      if (missing(error)) return undefined;
      throw error;
    }
  }

  async put(key: string, bytes: Uint8Array, contentType?: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.#prefix + key,
        Body: bytes,
        ...(contentType ? { ContentType: contentType } : {}),
      }),
    );
  }

  async has(key: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.#prefix + key }));
      return true;
    } catch (error) {
      if (missing(error)) return false;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.#prefix + prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const o of res.Contents ?? []) if (o.Key) out.push(o.Key.slice(this.#prefix.length));
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out;
  }
}
