// Byte storage under string keys: the one thing a dataset store needs from a disk or a bucket.
export interface BlobStore {
  /** Where the blobs live, for messages (a directory or s3://bucket/prefix). */
  readonly location: string;
  get(key: string): Promise<Uint8Array | undefined>;
  /** Replaces the blob atomically: a reader sees the old bytes or the new ones, never a part. */
  put(key: string, bytes: Uint8Array, contentType?: string): Promise<void>;
  has(key: string): Promise<boolean>;
  /** Keys under a prefix, in no particular order. */
  list(prefix: string): Promise<string[]>;
}
