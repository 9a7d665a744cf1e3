// Where the pipeline keeps what its steps hand each other (dataset versions, bundles, evaluation sets, embeddings,
// decisions): a local directory (`roadwork pipeline run --local`) or an S3 prefix (AWS). Same keys in both.
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import type { BlobStore } from "@roadwork/training";

export interface PipelineStore extends BlobStore {
  /** What a model loader or a person can open for this key: an absolute path, or s3://bucket/key. */
  uri(key: string): string;
  /** The local path of a key when the store is a directory (bundles are then written in place). */
  localPath(key: string): string | undefined;
  getJson<T>(key: string): Promise<T | undefined>;
  putJson(key: string, value: unknown): Promise<void>;
}

abstract class JsonMethods {
  abstract get(key: string): Promise<Uint8Array | undefined>;
  abstract put(key: string, bytes: Uint8Array): Promise<void>;
  async getJson<T>(key: string): Promise<T | undefined> {
    const bytes = await this.get(key);
    if (!bytes) return undefined;
    try {
      return JSON.parse(Buffer.from(bytes).toString("utf8")) as T;
    } catch {
      throw new Error(`pipeline store: ${key} is not valid JSON`);
    }
  }
  putJson(key: string, value: unknown): Promise<void> {
    return this.put(key, Buffer.from(`${JSON.stringify(value, null, 1)}\n`));
  }
}

const checkKey = (key: string): string => {
  if (key.startsWith("/") || key.split("/").includes("..") || key.includes("\\")) {
    throw new Error(`pipeline store: invalid key '${key}'`);
  }
  return key;
};

/** A directory. Writes go to a temporary file renamed into place, so a reader never sees half an object. */
export class LocalDirStore extends JsonMethods implements PipelineStore {
  readonly root: string;
  constructor(root: string) {
    super();
    this.root = resolve(root);
  }
  localPath(key: string): string {
    return join(this.root, checkKey(key));
  }
  uri(key: string): string {
    return this.localPath(key);
  }
  async list(prefix: string): Promise<string[]> {
    const base = this.localPath(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (!e.name.includes(".tmp-")) out.push(relative(this.root, p).split(sep).join("/"));
      }
    };
    await walk(base);
    return out;
  }
  async get(key: string): Promise<Uint8Array | undefined> {
    return readFile(this.localPath(key)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
  }
  async put(key: string, bytes: Uint8Array): Promise<void> {
    const path = this.localPath(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  }
}

/** An S3 prefix through an injected client (AWS, or fauxqs in tests). */
export class S3Store extends JsonMethods implements PipelineStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    readonly prefix = "",
  ) {
    super();
  }
  private full(key: string): string {
    return `${this.prefix}${checkKey(key)}`;
  }
  localPath(): undefined {
    return undefined;
  }
  uri(key: string): string {
    return `s3://${this.bucket}/${this.full(key)}`;
  }
  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.full(prefix), ContinuationToken: token }),
      );
      for (const o of res.Contents ?? []) if (o.Key) out.push(o.Key.slice(this.prefix.length));
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out;
  }
  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
    } catch (error) {
      if (
        error instanceof S3ServiceException &&
        (error.name === "NoSuchKey" || error.name === "NotFound" || error.$metadata.httpStatusCode === 404)
      ) {
        return undefined;
      }
      throw error;
    }
  }
  async put(key: string, bytes: Uint8Array): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.full(key), Body: bytes }));
  }
}

/** Copies every file of a local directory under `prefix` (bundles written to a temp dir, then uploaded). */
export async function uploadDir(store: PipelineStore, dir: string, prefix: string): Promise<string[]> {
  const local = new LocalDirStore(dir);
  const keys = await local.list("");
  for (const k of keys) await store.put(`${prefix}${k}`, (await local.get(k))!);
  return keys;
}

/** Downloads every object under `prefix` into a local directory. */
export async function downloadDir(store: PipelineStore, prefix: string, dir: string): Promise<number> {
  const keys = await store.list(prefix);
  const local = new LocalDirStore(dir);
  for (const k of keys) {
    const bytes = await store.get(k);
    if (bytes) await local.put(k.slice(prefix.length), bytes);
  }
  return keys.length;
}
