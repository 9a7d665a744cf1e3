// Where captured challenges go: a local data directory (`<data>/captures/YYYY/MM/DD/<sha>.jpg` + `.json`) or S3
// (`<prefix>YYYY/MM/DD/…`, injected client). The image is written before its record, so a reader that lists records
// never finds one whose image is missing.
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type CaptureRecord, captureDay } from "./capture-record.ts";

export interface CaptureStore {
  /** Stores the image and its record; rejects on failure (the capture counts it and moves on). */
  put(record: CaptureRecord, image: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** Where the store writes, for logs. */
  readonly where: string;
}

const dayOf = (record: CaptureRecord) => captureDay(Date.parse(record.capturedAt));

export class LocalCaptureStore implements CaptureStore {
  readonly where: string;

  /** `dataDir` is the data directory; captures go under its `captures/`. */
  constructor(dataDir: string) {
    this.where = join(dataDir, "captures");
  }

  async put(record: CaptureRecord, image: Uint8Array): Promise<void> {
    const dir = join(this.where, dayOf(record));
    await mkdir(dir, { recursive: true });
    await atomicWrite(join(dir, record.file), image);
    await atomicWrite(join(dir, `${record.sha256}.json`), `${JSON.stringify(record, null, 2)}\n`);
  }
}

/** Write-then-rename: an importer never reads half a file. */
async function atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export interface S3CaptureStoreOptions {
  s3: S3Client;
  bucket: string;
  /** Key prefix, default "captures/". */
  prefix?: string;
}

export class S3CaptureStore implements CaptureStore {
  readonly where: string;
  readonly #prefix: string;

  constructor(private readonly options: S3CaptureStoreOptions) {
    this.#prefix = options.prefix ?? "captures/";
    this.where = `s3://${options.bucket}/${this.#prefix}`;
  }

  async put(record: CaptureRecord, image: Uint8Array, signal?: AbortSignal): Promise<void> {
    const base = `${this.#prefix}${dayOf(record)}/`;
    const { s3, bucket } = this.options;
    const opts = signal ? { abortSignal: signal } : {};
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${base}${record.file}`,
        Body: image,
        ContentType: record.mediaType,
      }),
      opts,
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${base}${record.sha256}.json`,
        Body: `${JSON.stringify(record)}\n`,
        ContentType: "application/json",
      }),
      opts,
    );
  }
}
