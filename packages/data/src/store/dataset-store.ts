// The dataset store: image bytes by sha256, immutable version manifests, a `latest` pointer and importers' resume
// state, with one layout on a local directory and in S3:
//   images/<first two hex digits>/<sha256>   the bytes, as received
//   versions/<version id>.json                one manifest per version, never rewritten
//   latest.json                               {"id": "<version id>"}
//   state/<name>.json                         importers' progress (resumable imports)
import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { type DatasetChange, type DerivedVersion, deriveVersion } from "../dataset/derive.ts";
import { sha256Hex, sniffMediaType } from "../dataset/image.ts";
import { canonicalJson, type DatasetVersion, parseVersion } from "../dataset/version.ts";
import type { BlobStore } from "./blobs.ts";
import { LocalBlobStore } from "./local.ts";
import { S3BlobStore } from "./s3.ts";

export const imageKey = (sha256: string): string => `images/${sha256.slice(0, 2)}/${sha256}`;
export const versionKey = (id: string): string => `versions/${id}.json`;
const LATEST_KEY = "latest.json";
const LatestSchema = z.object({ id: z.string().regex(/^[0-9a-f]{64}$/) });

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(`${JSON.stringify(value, null, 1)}\n`);
const decode = (bytes: Uint8Array, where: string): unknown => {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Error(`${where} is not JSON: ${(error as Error).message}`);
  }
};

export class DatasetStore {
  constructor(readonly blobs: BlobStore) {}

  get location(): string {
    return this.blobs.location;
  }

  /** Where a key lives, for messages. */
  where(key: string): string {
    return this.location.endsWith("/") ? this.location + key : `${this.location}/${key}`;
  }

  hasImage(sha256: string): Promise<boolean> {
    return this.blobs.has(imageKey(sha256));
  }

  /** Stores the bytes under their sha256 (once: storing them again is a no-op) and returns it. */
  async putImage(bytes: Uint8Array): Promise<string> {
    const sha = sha256Hex(bytes);
    if (!(await this.blobs.has(imageKey(sha)))) await this.blobs.put(imageKey(sha), bytes, sniffMediaType(bytes));
    return sha;
  }

  async getImage(sha256: string): Promise<Uint8Array> {
    const bytes = await this.blobs.get(imageKey(sha256));
    if (!bytes) throw new Error(`image ${sha256} is not in ${this.location}`);
    if (sha256Hex(bytes) !== sha256) throw new Error(`image ${sha256} in ${this.location} is corrupt (hash mismatch)`);
    return bytes;
  }

  /** Stores a version; a version is immutable, so storing one that exists with other content is an error. */
  async putVersion(version: DatasetVersion): Promise<void> {
    const checked = parseVersion(version, `version ${version.id}`);
    const existing = await this.blobs.get(versionKey(checked.id));
    if (existing) {
      const old = parseVersion(decode(existing, versionKey(checked.id)), this.where(versionKey(checked.id)));
      if (canonicalJson({ ...old, createdAt: "" }) !== canonicalJson({ ...checked, createdAt: "" })) {
        throw new Error(`version ${checked.id} already exists in ${this.location} with other content`);
      }
      return;
    }
    await this.blobs.put(versionKey(checked.id), encode(checked), "application/json");
  }

  async getVersion(id: string): Promise<DatasetVersion> {
    const bytes = await this.blobs.get(versionKey(id));
    if (!bytes) throw new Error(`dataset version ${id} is not in ${this.location}; 'roadwork dataset ls' lists them`);
    return parseVersion(decode(bytes, versionKey(id)), this.where(versionKey(id)));
  }

  async listVersions(): Promise<string[]> {
    const keys = await this.blobs.list("versions/");
    return keys
      .map((k) => /^versions\/([0-9a-f]{64})\.json$/.exec(k)?.[1])
      .filter((id): id is string => id !== undefined);
  }

  /** Finds a version by a unique prefix of its id (as `roadwork dataset show` accepts). */
  async resolveVersion(prefix: string): Promise<string> {
    const ids = (await this.listVersions()).filter((id) => id.startsWith(prefix));
    if (ids.length === 1) return ids[0]!;
    throw new Error(
      ids.length === 0
        ? `no version ${prefix} in ${this.location}`
        : `version prefix ${prefix} is ambiguous (${ids.length} versions); give more digits`,
    );
  }

  async getLatest(): Promise<string | undefined> {
    const bytes = await this.blobs.get(LATEST_KEY);
    if (!bytes) return undefined;
    const parsed = LatestSchema.safeParse(decode(bytes, LATEST_KEY));
    if (!parsed.success) throw new Error(`${this.where(LATEST_KEY)} is not {"id": "<version id>"}`);
    return parsed.data.id;
  }

  async latestVersion(): Promise<DatasetVersion | null> {
    const id = await this.getLatest();
    return id ? this.getVersion(id) : null;
  }

  async setLatest(id: string): Promise<void> {
    if (!(await this.blobs.has(versionKey(id)))) throw new Error(`cannot point latest at missing version ${id}`);
    await this.blobs.put(LATEST_KEY, encode({ id }), "application/json");
  }

  async getState(name: string): Promise<unknown | undefined> {
    const bytes = await this.blobs.get(`state/${name}.json`);
    return bytes ? decode(bytes, `state/${name}.json`) : undefined;
  }

  async putState(name: string, value: unknown): Promise<void> {
    await this.blobs.put(`state/${name}.json`, encode(value), "application/json");
  }

  /**
   * Stores a derived version and moves `latest` to it; an unchanged derivation stores nothing. Refuses when `latest`
   * moved since the parent was read (another writer committed): derive again from the new latest.
   */
  async commit(derived: DerivedVersion): Promise<DatasetVersion> {
    if (!derived.changed) return derived.version;
    const latest = (await this.getLatest()) ?? null;
    if (latest !== derived.version.parent) throw new StaleParentError(this.location, derived.version.parent, latest);
    await this.putVersion(derived.version);
    await this.setLatest(derived.version.id);
    return derived.version;
  }

  /** Reads latest, applies the change, commits; retries when another writer got there first. */
  async update(change: DatasetChange): Promise<DerivedVersion> {
    for (let attempt = 0; ; attempt++) {
      const derived = deriveVersion(await this.latestVersion(), change);
      try {
        await this.commit(derived);
        return derived;
      } catch (error) {
        if (!(error instanceof StaleParentError) || attempt >= 4) throw error;
      }
    }
  }
}

export class StaleParentError extends Error {
  constructor(location: string, parent: string | null, latest: string | null) {
    super(
      `${location}: latest is ${latest?.slice(0, 12) ?? "(none)"}, not the parent ${parent?.slice(0, 12) ?? "(none)"} this version was derived from; derive again`,
    );
  }
}

/** A store in a local directory. */
export const localDatasetStore = (dir: string): DatasetStore => new DatasetStore(new LocalBlobStore(dir));

/** A store under s3://bucket/prefix through an injected client. */
export const s3DatasetStore = (s3: S3Client, bucket: string, prefix = ""): DatasetStore =>
  new DatasetStore(new S3BlobStore(s3, bucket, prefix));
