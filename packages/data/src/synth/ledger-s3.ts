// The budget ledger as an S3 object: reads keep the ETag, writes are conditional (If-Match on update,
// If-None-Match "*" on create), so two Lambdas reserving at once cannot both win; the loser re-reads and retries.
import { GetObjectCommand, PutObjectCommand, type S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import type { LedgerDocument, LedgerStore } from "./ledger.ts";

export class S3LedgerStore implements LedgerStore {
  readonly location: string;
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly key: string,
  ) {
    this.location = `s3://${bucket}/${key}`;
  }

  async read(): Promise<{ document?: unknown; version?: string }> {
    let text: string;
    let etag: string | undefined;
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key }));
      text = (await res.Body?.transformToString("utf-8")) ?? "";
      etag = res.ETag;
    } catch (error) {
      if (
        error instanceof S3ServiceException &&
        (error.name === "NoSuchKey" || error.$metadata.httpStatusCode === 404)
      ) {
        return {};
      }
      throw error;
    }
    try {
      return { document: JSON.parse(text), ...(etag ? { version: etag } : {}) };
    } catch {
      throw new Error(`budget ledger ${this.location} is not JSON; refusing to spend until it is fixed or moved aside`);
    }
  }

  async write(document: LedgerDocument, version: string | undefined): Promise<boolean> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key,
          Body: `${JSON.stringify(document)}\n`,
          ContentType: "application/json",
          ...(version === undefined ? { IfNoneMatch: "*" } : { IfMatch: version }),
        }),
      );
      return true;
    } catch (error) {
      if (
        error instanceof S3ServiceException &&
        (error.$metadata.httpStatusCode === 412 || error.$metadata.httpStatusCode === 409)
      ) {
        return false;
      }
      throw error;
    }
  }
}
