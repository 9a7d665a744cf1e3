// The promotion pointer (models/current.json): a tiny JSON file naming the bundle the axon should serve.
// Promoting a model = writing a new pointer; the axon notices (file watch, SIGHUP or its own poll) and hot-swaps.
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { BundleError } from "./manifest.ts";
import { parseRemoteSource } from "./remote.ts";

export const ModelPointerSchema = z.object({
  /** s3://bucket/prefix, hf://org/name[@rev], an absolute path, or a path relative to the pointer's own location. */
  bundle: z.string().min(1),
  /** Expected "name@version"; the load fails if the bundle says otherwise (guards against a stale copy). */
  version: z.string().optional(),
  promotedAt: z.string().optional(),
});
export type ModelPointer = z.infer<typeof ModelPointerSchema>;

/** A source names a pointer when it is a .json file other than a bundle's manifest.json. */
export const isPointerSource = (source: string): boolean =>
  source.endsWith(".json") && !source.endsWith("manifest.json");

/** Reads a pointer (local or s3://) and returns the bundle source it names, made absolute. */
export async function readPointer(source: string, s3?: S3Client): Promise<ModelPointer> {
  let text: string;
  const remote = parseRemoteSource(source);
  if (remote?.scheme === "s3") {
    if (!s3) throw new BundleError(`reading ${source} needs an S3 client (pass options.s3)`);
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: remote.bucket, Key: remote.prefix }));
      text = (await out.Body?.transformToString("utf8")) ?? "";
    } catch (error) {
      throw new BundleError(`cannot read model pointer ${source}: ${(error as Error).message}`);
    }
  } else if (remote) {
    throw new BundleError(`model pointers are read from S3 or local files, not ${source}`);
  } else {
    try {
      text = await readFile(source, "utf8");
    } catch {
      throw new BundleError(`model pointer not found: ${source}`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BundleError(`model pointer ${source} is not JSON`);
  }
  const parsed = ModelPointerSchema.safeParse(json);
  if (!parsed.success) throw new BundleError(`model pointer ${source} is invalid:\n${z.prettifyError(parsed.error)}`);
  return { ...parsed.data, bundle: resolveRelative(source, parsed.data.bundle) };
}

function resolveRelative(pointer: string, target: string): string {
  if (/^(s3|hf):\/\//.test(target) || isAbsolute(target)) return target;
  const remote = parseRemoteSource(pointer);
  if (remote?.scheme === "s3") {
    const base = remote.prefix.includes("/") ? remote.prefix.slice(0, remote.prefix.lastIndexOf("/") + 1) : "";
    const key = new URL(target, `s3://x/${base}`).pathname.slice(1);
    return `s3://${remote.bucket}/${key}`;
  }
  return resolve(dirname(pointer), target);
}
