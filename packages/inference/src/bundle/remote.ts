// Bundles that live elsewhere: s3://bucket/prefix (through an injected S3Client) or hf://org/name[@revision]
// (Hugging Face `resolve/<rev>/<file>` URLs, HF_ENDPOINT honoured). Files land in a local cache directory,
// are verified against the manifest's sha256 before they are used, and are reused when their checksum matches.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { LocalBundle } from "../engine.ts";
import type { Logger } from "../session.ts";
import { sha256File } from "./local.ts";
import { BundleError, MANIFEST_FILE, type Manifest, manifestFiles, parseManifest } from "./manifest.ts";

export interface RemoteOptions {
  /** Where downloaded bundles are kept (default $ROADWORK_MODEL_CACHE or ~/.cache/roadwork/models). */
  cacheDir?: string;
  /** Required for s3:// sources. */
  s3?: S3Client;
  /** Hugging Face endpoint (default $HF_ENDPOINT or https://huggingface.co). */
  hfEndpoint?: string;
  /** Hugging Face token for private repos; sent only as a header, never logged. */
  hfToken?: string;
  fetch?: typeof fetch;
  logger?: Logger;
}

export type RemoteSource =
  | { scheme: "s3"; bucket: string; prefix: string }
  | { scheme: "hf"; repo: string; revision: string };

/** Parses s3://bucket/prefix or hf://org/name[@revision]; undefined for anything else (a local path). */
export function parseRemoteSource(source: string): RemoteSource | undefined {
  if (source.startsWith("s3://")) {
    const rest = source.slice(5);
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? "" : rest.slice(slash + 1).replace(/\/+$/, "");
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new BundleError(`invalid S3 bucket in ${source}`);
    return { scheme: "s3", bucket, prefix };
  }
  if (source.startsWith("hf://")) {
    const m = /^hf:\/\/([A-Za-z0-9][\w.-]*\/[\w.-]+)(?:@([\w./-]+))?$/.exec(source);
    if (!m?.[1])
      throw new BundleError(`invalid Hugging Face source ${source}: use hf://org/name or hf://org/name@revision`);
    return { scheme: "hf", repo: m[1], revision: m[2] ?? "main" };
  }
  return undefined;
}

export function defaultCacheDir(): string {
  return process.env.ROADWORK_MODEL_CACHE ?? join(homedir(), ".cache", "roadwork", "models");
}

/** Streams a body to `path` through a temporary file, returning its sha256. */
async function saveStream(body: Readable, path: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.part`;
  const hash = createHash("sha256");
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(body, tap, createWriteStream(tmp));
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  return hash.digest("hex");
}

interface Fetcher {
  describe(file: string): string;
  text(file: string): Promise<string>;
  save(file: string, path: string): Promise<string>;
}

function s3Fetcher(src: Extract<RemoteSource, { scheme: "s3" }>, s3: S3Client | undefined): Fetcher {
  if (!s3) throw new BundleError(`loading s3://${src.bucket}/${src.prefix} needs an S3 client (pass options.s3)`);
  const key = (file: string) => (src.prefix ? `${src.prefix}/${file}` : file);
  const get = async (file: string) => {
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: src.bucket, Key: key(file) }));
      if (!out.Body) throw new Error("empty body");
      return out.Body;
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === "NoSuchKey" || name === "NotFound")
        throw new BundleError(`missing file ${file}: s3://${src.bucket}/${key(file)} does not exist`);
      throw new BundleError(`cannot read s3://${src.bucket}/${key(file)}: ${(error as Error).message}`);
    }
  };
  return {
    describe: (file) => `s3://${src.bucket}/${key(file)}`,
    text: async (file) => (await get(file)).transformToString("utf8"),
    save: async (file, path) => saveStream((await get(file)) as Readable, path),
  };
}

function hfFetcher(src: Extract<RemoteSource, { scheme: "hf" }>, options: RemoteOptions): Fetcher {
  const endpoint = (options.hfEndpoint ?? process.env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  const url = (file: string) =>
    `${endpoint}/${src.repo}/resolve/${encodeURIComponent(src.revision)}/${file.split("/").map(encodeURIComponent).join("/")}`;
  const get = async (file: string) => {
    const headers: Record<string, string> = {};
    if (options.hfToken) headers.authorization = `Bearer ${options.hfToken}`;
    let res: Response;
    try {
      res = await doFetch(url(file), { headers, redirect: "follow" });
    } catch (error) {
      throw new BundleError(`cannot reach ${endpoint} for ${src.repo}/${file}: ${(error as Error).message}`);
    }
    if (res.ok && res.body) return res;
    await res.body?.cancel();
    if (res.status === 404)
      throw new BundleError(`missing file ${file}: not found in ${src.repo} at revision ${src.revision}`);
    if (res.status === 401 || res.status === 403) {
      throw new BundleError(
        `${src.repo} refused access (HTTP ${res.status}); the repo may be private or gated: provide a Hugging Face token`,
      );
    }
    throw new BundleError(`downloading ${src.repo}/${file} failed: HTTP ${res.status}`);
  };
  return {
    describe: (file) => `${src.repo}@${src.revision}/${file}`,
    text: async (file) => (await get(file)).text(),
    save: async (file, path) => {
      const res = await get(file);
      return saveStream(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), path);
    },
  };
}

function cacheKey(src: RemoteSource): string {
  const raw = src.scheme === "s3" ? `s3/${src.bucket}/${src.prefix}` : `hf/${src.repo}`;
  return raw.replace(/[^A-Za-z0-9._/-]/g, "_");
}

/** Downloads (or reuses) a remote bundle and returns it as a verified local bundle. */
export async function fetchRemoteBundle(source: string, options: RemoteOptions = {}): Promise<LocalBundle> {
  const src = parseRemoteSource(source);
  if (!src) throw new BundleError(`${source} is not an s3:// or hf:// source`);
  const fetcher = src.scheme === "s3" ? s3Fetcher(src, options.s3) : hfFetcher(src, options);
  const manifest: Manifest = parseManifest(await fetcher.text(MANIFEST_FILE), fetcher.describe(MANIFEST_FILE));
  const dir = join(options.cacheDir ?? defaultCacheDir(), cacheKey(src), `${manifest.name}@${manifest.version}`);
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  // A cached manifest is only written after every file verified, so an identical one means a complete copy.
  if ((await readFile(join(dir, MANIFEST_FILE), "utf8").catch(() => "")) === text) return { manifest, dir };
  await mkdir(dir, { recursive: true });
  for (const file of manifestFiles(manifest)) {
    const path = join(dir, file.path);
    const cached = await sha256File(path).catch(() => undefined);
    if (cached === file.sha256) continue;
    options.logger?.info("inference: downloading bundle file", { file: fetcher.describe(file.path) });
    const actual = await fetcher.save(file.path, path);
    if (actual !== file.sha256) {
      await rm(path, { force: true });
      throw new BundleError(
        `bad checksum for ${fetcher.describe(file.path)}: manifest says ${file.sha256}, download is ${actual}`,
      );
    }
  }
  // The manifest goes last: a cache directory with a manifest is complete.
  await writeFile(join(dir, MANIFEST_FILE), text);
  return { manifest, dir };
}
