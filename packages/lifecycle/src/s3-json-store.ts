// Small JSON documents in S3 with optimistic concurrency: reads return the ETag, writes are conditional
// (If-Match on update, If-None-Match "*" on create), so two concurrent writers cannot both win.
import { GetObjectCommand, PutObjectCommand, type S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import type { z } from "zod";

export interface Stored<T> {
  value: T;
  etag: string | undefined;
}

export class ConditionalWriteError extends Error {
  constructor(key: string) {
    super(`s3 object ${key} changed concurrently; re-read and retry`);
    this.name = "ConditionalWriteError";
  }
}

export class S3JsonStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async read<S extends z.ZodType>(key: string, schema: S): Promise<Stored<z.output<S>> | undefined> {
    let text: string;
    let etag: string | undefined;
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      text = (await res.Body?.transformToString("utf-8")) ?? "";
      etag = res.ETag;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`s3://${this.bucket}/${key} is not valid JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new Error(`s3://${this.bucket}/${key} does not match its schema: ${parsed.error.issues[0]?.message}`);
    }
    return { value: parsed.data, etag };
  }

  /** `expect`: undefined = create only; a string = the ETag read before; "any" = unconditional. */
  async write(key: string, value: unknown, expect: string | undefined | "any"): Promise<string | undefined> {
    try {
      const res = await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: `${JSON.stringify(value, null, 2)}\n`,
          ContentType: "application/json",
          ...(expect === "any" ? {} : expect === undefined ? { IfNoneMatch: "*" } : { IfMatch: expect }),
        }),
      );
      return res.ETag;
    } catch (error) {
      if (
        error instanceof S3ServiceException &&
        (error.$metadata.httpStatusCode === 412 ||
          error.name === "ConditionalRequestConflict" ||
          error.$metadata.httpStatusCode === 409)
      ) {
        throw new ConditionalWriteError(`s3://${this.bucket}/${key}`);
      }
      throw error;
    }
  }
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === "NoSuchKey" || error.name === "NotFound" || error.$metadata.httpStatusCode === 404)
  );
}
