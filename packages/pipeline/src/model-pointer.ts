// The promotion pointer `models/current.json` (the file the axon's ModelHost watches or polls). Promoting writes ONE
// object: the new pointer carrying the one it replaces in `previous` (a short chain), so there is never a moment
// where the current model and the record of the previous one disagree. Locally the write is temp file + rename;
// on S3 it is a conditional PUT (If-Match the ETag read) into a versioned bucket, which also keeps every old pointer.
// `previous.json` beside it is a copy for people; rollback reads the chain in current.json.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { GetObjectCommand, PutObjectCommand, type S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { z } from "zod";

/** How many earlier pointers current.json remembers (rollback can go this many steps back). */
export const POINTER_HISTORY = 5;

export interface PromotionPointer {
  /** Bundle source: s3://…, an absolute path, or a path relative to the pointer file. */
  bundle: string;
  /** "name@version" as the bundle's manifest says; the axon refuses a bundle that disagrees. */
  version: string;
  promotedAt: string;
  /** The pipeline run that promoted it (absent for a hand-written pointer). */
  runId?: string;
  /** Set when this pointer was restored by a rollback: which version was taken out, and when. */
  rolledBack?: { from: string; at: string; reason?: string };
  previous?: PromotionPointer;
}

export const PromotionPointer: z.ZodType<PromotionPointer> = z.lazy(() =>
  z.object({
    bundle: z.string().min(1),
    version: z.string().min(1),
    promotedAt: z.string(),
    runId: z.string().optional(),
    rolledBack: z.object({ from: z.string(), at: z.string(), reason: z.string().optional() }).optional(),
    previous: PromotionPointer.optional(),
  }),
);

export class PointerConflict extends Error {
  override name = "PointerConflict";
}

function trim(p: PromotionPointer, depth: number): PromotionPointer {
  const { previous, ...rest } = p;
  return depth <= 1 || !previous ? rest : { ...rest, previous: trim(previous, depth - 1) };
}

/** Where the pointer lives; the two implementations differ only in how one object is read and replaced. */
export interface PointerStore {
  readonly location: string;
  read(): Promise<{ pointer: PromotionPointer; etag?: string } | undefined>;
  /** Replaces the pointer; fails with PointerConflict when it changed since `etag` was read. */
  write(pointer: PromotionPointer, etag: string | undefined): Promise<void>;
  /** A bundle location as the pointer should name it (relative for local files). */
  refer(bundleUri: string): string;
  /** The bundle location a pointer names, made absolute (what the pipeline loads). */
  resolve(bundle: string): string;
}

function parsePointer(text: string, source: string): PromotionPointer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`model pointer ${source} is not JSON; restore it from previous.json or promote again`);
  }
  const parsed = PromotionPointer.safeParse(json);
  if (!parsed.success) throw new Error(`model pointer ${source} is invalid: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export class LocalPointerStore implements PointerStore {
  readonly location: string;
  constructor(path: string) {
    this.location = resolve(path);
  }
  async read(): Promise<{ pointer: PromotionPointer; etag?: string } | undefined> {
    const text = await readFile(this.location, "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (text === undefined) return undefined;
    return { pointer: parsePointer(text, this.location), etag: text };
  }
  async write(pointer: PromotionPointer, etag: string | undefined): Promise<void> {
    const now = await readFile(this.location, "utf8").catch(() => undefined);
    if (now !== etag) throw new PointerConflict(`${this.location} changed while promoting; run again`);
    await mkdir(dirname(this.location), { recursive: true });
    const put = async (path: string, value: unknown) => {
      const tmp = `${path}.tmp-${process.pid}`;
      await writeFile(tmp, `${JSON.stringify(value, null, 1)}\n`);
      await rename(tmp, path);
    };
    if (pointer.previous) await put(resolve(dirname(this.location), "previous.json"), trim(pointer.previous, 1));
    await put(this.location, pointer);
  }
  refer(bundleUri: string): string {
    return /^(s3|hf):\/\//.test(bundleUri) ? bundleUri : relative(dirname(this.location), bundleUri) || ".";
  }
  resolve(bundle: string): string {
    return /^(s3|hf):\/\//.test(bundle) || isAbsolute(bundle) ? bundle : resolve(dirname(this.location), bundle);
  }
}

export class S3PointerStore implements PointerStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    readonly key = "models/current.json",
  ) {}
  get location(): string {
    return `s3://${this.bucket}/${this.key}`;
  }
  async read(): Promise<{ pointer: PromotionPointer; etag?: string } | undefined> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key }));
      const text = (await res.Body?.transformToString("utf8")) ?? "";
      return { pointer: parsePointer(text, this.location), ...(res.ETag ? { etag: res.ETag } : {}) };
    } catch (error) {
      if (error instanceof S3ServiceException && (error.name === "NoSuchKey" || error.$metadata.httpStatusCode === 404))
        return undefined;
      throw error;
    }
  }
  async write(pointer: PromotionPointer, etag: string | undefined): Promise<void> {
    const body = (v: unknown) => `${JSON.stringify(v, null, 1)}\n`;
    if (pointer.previous) {
      const previousKey = `${this.key.slice(0, this.key.lastIndexOf("/") + 1)}previous.json`;
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: previousKey,
          Body: body(trim(pointer.previous, 1)),
          ContentType: "application/json",
        }),
      );
    }
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key,
          Body: body(pointer),
          ContentType: "application/json",
          ...(etag ? { IfMatch: etag } : { IfNoneMatch: "*" }),
        }),
      );
    } catch (error) {
      if (error instanceof S3ServiceException && [409, 412].includes(error.$metadata.httpStatusCode ?? 0)) {
        throw new PointerConflict(`${this.location} changed while promoting; run again`);
      }
      throw error;
    }
  }
  refer(bundleUri: string): string {
    return bundleUri;
  }
  resolve(bundle: string): string {
    return bundle;
  }
}

/** Makes `bundle` current, keeping what was current as `previous`. */
export async function promotePointer(
  store: PointerStore,
  next: { bundleUri: string; version: string; runId?: string; now?: Date },
): Promise<{ pointer: PromotionPointer; previous?: PromotionPointer }> {
  const current = await store.read();
  const pointer: PromotionPointer = {
    bundle: store.refer(next.bundleUri),
    version: next.version,
    promotedAt: (next.now ?? new Date()).toISOString(),
    ...(next.runId ? { runId: next.runId } : {}),
    ...(current ? { previous: trim(current.pointer, POINTER_HISTORY) } : {}),
  };
  await store.write(pointer, current?.etag);
  return { pointer, ...(current ? { previous: current.pointer } : {}) };
}

/**
 * Restores the previous pointer. The rolled-back pointer is not kept in the chain (it was judged bad); the restored
 * one records what it replaced (`rolledBack`), so an automatic rollback never rolls a rollback back again.
 */
export async function rollbackPointer(
  store: PointerStore,
  now: Date = new Date(),
  reason?: string,
): Promise<{ from: PromotionPointer; to: PromotionPointer }> {
  const current = await store.read();
  if (!current) throw new Error(`no model pointer at ${store.location}: nothing to roll back`);
  const previous = current.pointer.previous;
  if (!previous) {
    throw new Error(`${store.location} names ${current.pointer.version} and keeps no previous pointer to roll back to`);
  }
  const { rolledBack: _earlier, ...restored } = previous;
  const to: PromotionPointer = {
    ...restored,
    promotedAt: now.toISOString(),
    rolledBack: { from: current.pointer.version, at: now.toISOString(), ...(reason ? { reason } : {}) },
  };
  await store.write(to, current.etag);
  return { from: current.pointer, to };
}
