// The content-addressed embedding cache: one vector per (backbone checksum, image sha256, view), kept in a blob store
// (a local directory or an S3 prefix) so a retrain embeds only the images it has not seen with this backbone.
//
// Layout: `<prefix>/<backbone sha256>/<shard sha256>.emb`. A shard holds many vectors (one S3 object per flush, not
// one per image: 10,000 images would otherwise be 20,000 PUTs), is immutable and named by its own content, so
// concurrent writers and a writer killed mid-flush can never corrupt what is already cached.
import { createHash } from "node:crypto";

/** Where shards live. Implemented over a directory and over S3 by the pipeline; injected, never created here. */
export interface BlobStore {
  /** Keys under `prefix` (full keys, any order). */
  list(prefix: string): Promise<string[]>;
  /** The object's bytes, or undefined when it does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Writes the object; visible to readers only once complete. */
  put(key: string, bytes: Uint8Array): Promise<void>;
}

const MAGIC = "RWEMB1\n";

/** The cache key of one view of one image under one backbone (the backbone is the shard directory). */
export function embeddingKey(imageSha256: string, view: string): string {
  return createHash("sha256").update(`${imageSha256}\n${view}`).digest("hex");
}

export const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

export function encodeShard(dim: number, entries: ReadonlyMap<string, Float32Array>): Uint8Array {
  const keys = [...entries.keys()].sort();
  const header = Buffer.from(JSON.stringify({ dim, keys }));
  const head = Buffer.alloc(MAGIC.length + 4);
  head.write(MAGIC, 0, "latin1");
  head.writeUInt32LE(header.length, MAGIC.length);
  const data = new Float32Array(keys.length * dim);
  keys.forEach((k, i) => {
    const v = entries.get(k)!;
    if (v.length !== dim) throw new RangeError(`embedding ${k} has ${v.length} dims, the shard ${dim}`);
    data.set(v, i * dim);
  });
  return Buffer.concat([head, header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

export function decodeShard(
  bytes: Uint8Array,
  source = "embedding shard",
): { dim: number; entries: Map<string, Float32Array> } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.subarray(0, MAGIC.length).toString("latin1") !== MAGIC)
    throw new Error(`${source} is not an embedding shard`);
  const headerLength = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  const { dim, keys } = JSON.parse(buf.subarray(start, start + headerLength).toString("utf8")) as {
    dim: number;
    keys: string[];
  };
  const body = buf.subarray(start + headerLength);
  if (body.byteLength !== keys.length * dim * 4) throw new Error(`${source} is truncated`);
  // Copy: the buffer may be a slice of a pooled allocation with an unaligned offset.
  const data = new Float32Array(body.byteLength / 4);
  new Uint8Array(data.buffer).set(body);
  const entries = new Map<string, Float32Array>();
  keys.forEach((k, i) => {
    entries.set(k, data.subarray(i * dim, (i + 1) * dim));
  });
  return { dim, entries };
}

export interface CacheStats {
  /** Vectors found in the store when it was opened. */
  loaded: number;
  hits: number;
  misses: number;
  /** Shards written by this process. */
  shardsWritten: number;
}

/** The vectors of one backbone. Open it, look up, add, flush (also on SIGTERM, before exiting). */
export class EmbeddingCache {
  readonly #pending = new Map<string, Float32Array>();
  #dim: number | undefined;
  #flushing: Promise<void> = Promise.resolve();
  readonly stats: CacheStats;

  private constructor(
    private readonly store: BlobStore,
    private readonly dir: string,
    private readonly entries: Map<string, Float32Array>,
    dim: number | undefined,
  ) {
    this.#dim = dim;
    this.stats = { loaded: entries.size, hits: 0, misses: 0, shardsWritten: 0 };
  }

  /** Loads every shard stored for this backbone. A damaged shard is skipped (its vectors are recomputed). */
  static async open(
    store: BlobStore,
    backboneSha256: string,
    options: { prefix?: string; onWarning?: (message: string) => void } = {},
  ): Promise<EmbeddingCache> {
    if (!/^[0-9a-f]{64}$/.test(backboneSha256)) throw new Error("the backbone checksum must be a sha256 hex digest");
    const dir = `${options.prefix ?? "embeddings"}/${backboneSha256}/`;
    const entries = new Map<string, Float32Array>();
    let dim: number | undefined;
    for (const key of (await store.list(dir)).filter((k) => k.endsWith(".emb")).sort()) {
      try {
        const bytes = await store.get(key);
        if (!bytes) continue;
        const shard = decodeShard(bytes, key);
        if (dim !== undefined && shard.dim !== dim) throw new Error(`${key} has ${shard.dim} dims, others ${dim}`);
        dim = shard.dim;
        for (const [k, v] of shard.entries) entries.set(k, v);
      } catch (error) {
        options.onWarning?.(`embedding cache: skipping ${key}: ${(error as Error).message}`);
      }
    }
    return new EmbeddingCache(store, dir, entries, dim);
  }

  get size(): number {
    return this.entries.size + this.#pending.size;
  }

  get pending(): number {
    return this.#pending.size;
  }

  get(imageSha256: string, view: string): Float32Array | undefined {
    const k = embeddingKey(imageSha256, view);
    const v = this.entries.get(k) ?? this.#pending.get(k);
    if (v) this.stats.hits++;
    else this.stats.misses++;
    return v;
  }

  add(imageSha256: string, view: string, vector: Float32Array): void {
    if (this.#dim === undefined) this.#dim = vector.length;
    else if (vector.length !== this.#dim)
      throw new RangeError(`embedding has ${vector.length} dims, cache ${this.#dim}`);
    this.#pending.set(embeddingKey(imageSha256, view), vector.slice());
  }

  /** Writes what was added since the last flush as one shard. Flushes run one at a time. */
  flush(): Promise<void> {
    const run = this.#flushing.then(async () => {
      if (this.#pending.size === 0 || this.#dim === undefined) return;
      const batch = new Map(this.#pending);
      const bytes = encodeShard(this.#dim, batch);
      await this.store.put(`${this.dir}${sha256Hex(bytes)}.emb`, bytes);
      for (const [k, v] of batch) {
        this.entries.set(k, v);
        this.#pending.delete(k);
      }
      this.stats.shardsWritten++;
    });
    this.#flushing = run.catch(() => {});
    return run;
  }
}
