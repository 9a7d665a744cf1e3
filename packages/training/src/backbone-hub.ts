// Backbones straight from Hugging Face, no Python: ONNX exports as the onnx-community / Xenova repos publish them
// (`onnx/model.onnx` with variants `model_fp16.onnx`, `model_quantized.onnx`, …, `preprocessor_config.json`,
// `config.json`). The revision is pinned to its commit, every file is checked against the checksum the Hub lists
// (LFS sha256, else the git blob id) and cached by commit, and preprocessor_config.json becomes the bundle's
// preprocessing, so training and serving see the same pixels.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import {
  createSession,
  defaultCacheDir,
  outputSize,
  type Pooling,
  parsePreprocessing,
  parseRemoteSource,
  silentLogger,
} from "@roadwork/inference";
import { z } from "zod";
import type { BackboneInput } from "./pipeline.ts";

export interface HubBackboneOptions {
  /** hf://org/name[@revision] */
  source: string;
  /**
   * Which ONNX file: a variant name ("model" default, "fp16", "quantized", "int8", "uint8", "q4", "bnb4", …, as in
   * `onnx/model_<variant>.onnx`) or a path inside the repo ending in .onnx.
   */
  variant?: string;
  /** Pooling of the token output; default: "cls+mean" on last_hidden_state, else pooler_output as is. */
  pooling?: Pooling | "pooler" | "auto";
  /** Cache root (default $ROADWORK_MODEL_CACHE or ~/.cache/roadwork/models); files go under hf-backbones/. */
  cacheDir?: string;
  /** Default $HF_ENDPOINT or https://huggingface.co. */
  hfEndpoint?: string;
  /** Default $HF_TOKEN; sent as a bearer header only, never logged. */
  hfToken?: string;
  fetch?: typeof fetch;
  onProgress?: (file: string, bytes: number, total: number) => void;
}

export interface HubBackbone extends BackboneInput {
  model: string;
  repo: string;
  commit: string;
  file: string;
  sha256: string;
  bytes: number;
}

export class HubBackboneError extends Error {
  override readonly name = "HubBackboneError";
}

const TreeEntrySchema = z.object({
  type: z.string(),
  path: z.string(),
  size: z.number().int().nonnegative(),
  oid: z.string(),
  lfs: z.object({ oid: z.string(), size: z.number().int().nonnegative() }).optional(),
});
type TreeEntry = z.infer<typeof TreeEntrySchema>;

const ModelConfigSchema = z
  .object({
    model_type: z.string().optional(),
    num_register_tokens: z.number().int().nonnegative().optional(),
    hidden_size: z.number().int().positive().optional(),
  })
  .loose();

/** The ONNX file a variant names in the onnx-community layout. */
export function variantPath(variant = "model"): string {
  if (variant.endsWith(".onnx")) return variant;
  return variant === "model" ? "onnx/model.onnx" : `onnx/model_${variant}.onnx`;
}

class HubClient {
  readonly endpoint: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(
    readonly repo: string,
    options: HubBackboneOptions,
  ) {
    this.endpoint = (options.hfEndpoint ?? process.env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, "");
    this.#token = options.hfToken ?? process.env.HF_TOKEN ?? undefined;
    this.#fetch = options.fetch ?? fetch;
  }

  async get(path: string, what: string): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let res: Response;
    try {
      res = await this.#fetch(`${this.endpoint}${path}`, { headers, redirect: "follow" });
    } catch (error) {
      throw new HubBackboneError(`cannot reach ${this.endpoint} for ${what}: ${(error as Error).message}`);
    }
    if (res.ok) return res;
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403)
      throw new HubBackboneError(
        `${this.repo} refused access to ${what} (HTTP ${res.status}): the repo may be private or gated; set HF_TOKEN to a token that can read it`,
      );
    if (res.status === 404)
      throw new HubBackboneError(
        `${what} not found on ${this.endpoint} (HTTP 404): check the repo name and revision; a private repo also needs HF_TOKEN`,
      );
    throw new HubBackboneError(`${what}: HTTP ${res.status} from ${this.endpoint}; try again later`);
  }

  async json(path: string, what: string): Promise<unknown> {
    const res = await this.get(path, what);
    try {
      return await res.json();
    } catch {
      throw new HubBackboneError(`${what}: the Hub answered with something that is not JSON`);
    }
  }

  resolveUrl(commit: string, file: string): string {
    return `/${this.repo}/resolve/${commit}/${file.split("/").map(encodeURIComponent).join("/")}`;
  }
}

/** sha256 for LFS files, git's blob sha1 otherwise: the checksum the Hub's tree listing gives for a file. */
function expectedDigest(entry: TreeEntry): { algorithm: "sha256" | "git-blob"; hex: string } {
  return entry.lfs ? { algorithm: "sha256", hex: entry.lfs.oid } : { algorithm: "git-blob", hex: entry.oid };
}

async function digestFile(path: string, algorithm: "sha256" | "git-blob"): Promise<string> {
  const hash = createHash(algorithm === "sha256" ? "sha256" : "sha1");
  if (algorithm === "git-blob") hash.update(`blob ${(await stat(path)).size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Downloads `entry` into `path` unless a verified copy is there; a bad download is deleted, never cached. */
async function fetchVerified(
  client: HubClient,
  commit: string,
  entry: TreeEntry,
  path: string,
  onProgress?: HubBackboneOptions["onProgress"],
): Promise<void> {
  const want = expectedDigest(entry);
  if ((await digestFile(path, want.algorithm).catch(() => "")) === want.hex) return;
  await mkdir(dirname(path), { recursive: true });
  const res = await client.get(client.resolveUrl(commit, entry.path), `${client.repo}/${entry.path}`);
  if (!res.body) throw new HubBackboneError(`${client.repo}/${entry.path}: empty response`);
  const total = entry.lfs?.size ?? entry.size;
  const tmp = `${path}.${process.pid}.part`;
  const hash = createHash(want.algorithm === "sha256" ? "sha256" : "sha1");
  if (want.algorithm === "git-blob") hash.update(`blob ${total}\0`);
  let done = 0;
  let lastReport = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, next) {
      hash.update(chunk);
      done += chunk.length;
      if (onProgress && (done - lastReport >= 4 << 20 || done === total)) {
        lastReport = done;
        onProgress(entry.path, done, total);
      }
      next(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream), tap, createWriteStream(tmp));
    const got = hash.digest("hex");
    if (got !== want.hex || done !== total) {
      throw new HubBackboneError(
        `bad checksum for ${client.repo}@${commit.slice(0, 12)}/${entry.path}: the Hub lists ${want.algorithm} ${want.hex} (${total} bytes), the download is ${got} (${done} bytes); nothing was cached, run again`,
      );
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/**
 * Downloads (or reuses) a Hugging Face ONNX backbone and describes it for `trainFromDataset`: input name, size and
 * dtype from the model, preprocessing from preprocessor_config.json, the embedding output and its pooling.
 */
export async function fetchHubBackbone(options: HubBackboneOptions): Promise<HubBackbone> {
  const src = parseRemoteSource(options.source);
  if (src?.scheme !== "hf") throw new HubBackboneError(`${options.source}: expected hf://org/name[@revision]`);
  const client = new HubClient(src.repo, options);
  const info = z
    .object({ sha: z.string().regex(/^[0-9a-f]{40}$/) })
    .safeParse(
      await client.json(
        `/api/models/${src.repo}/revision/${encodeURIComponent(src.revision)}`,
        `${src.repo}@${src.revision}`,
      ),
    );
  if (!info.success) throw new HubBackboneError(`${src.repo}@${src.revision}: the Hub gave no commit id`);
  const commit = info.data.sha;
  const listing = z
    .array(TreeEntrySchema)
    .safeParse(await client.json(`/api/models/${src.repo}/tree/${commit}?recursive=true`, `${src.repo} file list`));
  if (!listing.success) throw new HubBackboneError(`${src.repo}: the Hub's file list has an unexpected shape`);
  const files = new Map(listing.data.filter((e) => e.type === "file").map((e) => [e.path, e]));

  const wanted = variantPath(options.variant);
  const onnx = files.get(wanted) ?? (options.variant === undefined ? files.get("model.onnx") : undefined);
  if (!onnx) {
    const available = [...files.keys()].filter((p) => p.endsWith(".onnx")).sort();
    throw new HubBackboneError(
      `${src.repo}@${commit.slice(0, 12)} has no ${wanted}; ONNX files there: ${available.join(", ") || "none"} (pick one with --variant, or export the model with scripts/export-backbone.py)`,
    );
  }
  if (files.has(`${onnx.path}_data`) || files.has(`${onnx.path}.data`)) {
    throw new HubBackboneError(
      `${onnx.path} keeps its weights in an external data file, which bundles do not carry yet; pick a smaller variant (e.g. --variant fp16 or quantized) or export with scripts/export-backbone.py`,
    );
  }
  const pre = files.get("preprocessor_config.json");
  if (!pre)
    throw new HubBackboneError(
      `${src.repo} has no preprocessor_config.json; without it the pixels cannot be prepared as the model expects`,
    );

  const dir = join(options.cacheDir ?? defaultCacheDir(), "hf-backbones", ...src.repo.split("/"), commit);
  const local = (p: string) => join(dir, ...p.split("/"));
  await fetchVerified(client, commit, pre, local(pre.path), options.onProgress);
  const config = files.get("config.json");
  if (config) await fetchVerified(client, commit, config, local(config.path), options.onProgress);
  await fetchVerified(client, commit, onnx, local(onnx.path), options.onProgress);

  const preprocessing = parsePreprocessing(JSON.parse(await readFile(local(pre.path), "utf8")));
  const size = outputSize(preprocessing);
  if (!size || size.height !== size.width) {
    throw new HubBackboneError(
      `${src.repo}'s preprocessor_config.json does not produce a fixed square input (set do_center_crop + crop_size)`,
    );
  }
  const modelConfig = config
    ? ModelConfigSchema.safeParse(JSON.parse(await readFile(local(config.path), "utf8")))
    : undefined;
  const registers = modelConfig?.success ? (modelConfig.data.num_register_tokens ?? 0) : 0;

  const { session } = await createSession(local(onnx.path), { executionProvider: "cpu", logger: silentLogger });
  try {
    const input = session.inputMetadata[0];
    if (!input?.isTensor || session.inputNames.length !== 1)
      throw new HubBackboneError(`${onnx.path}: a backbone takes exactly one pixel input`);
    if (input.type !== "float32" && input.type !== "float16")
      throw new HubBackboneError(`${onnx.path}: input '${input.name}' is ${input.type}; expected float32 or float16`);
    const [, c, h, w] = input.shape;
    if (input.shape.length !== 4 || (typeof c === "number" && c !== 3))
      throw new HubBackboneError(
        `${onnx.path}: input '${input.name}' is [${input.shape.join(",")}]; expected [N,3,H,W]`,
      );
    for (const d of [h, w]) {
      if (typeof d === "number" && d > 0 && d !== size.height)
        throw new HubBackboneError(
          `${onnx.path} takes ${h}×${w} pixels but preprocessor_config.json produces ${size.height}×${size.width}`,
        );
    }
    const outputs = session.outputNames;
    const requested = options.pooling ?? "auto";
    let output: string;
    let token: Pooling;
    if (requested === "pooler" || (requested === "auto" && !outputs.includes("last_hidden_state"))) {
      if (!outputs.includes("pooler_output"))
        throw new HubBackboneError(
          `${onnx.path} has neither last_hidden_state nor pooler_output (outputs: ${outputs.join(", ")}); export it with scripts/export-backbone.py`,
        );
      output = "pooler_output";
      token = "none";
    } else {
      if (!outputs.includes("last_hidden_state"))
        throw new HubBackboneError(`${onnx.path} has no last_hidden_state output (outputs: ${outputs.join(", ")})`);
      output = "last_hidden_state";
      token = requested === "auto" ? "cls+mean" : requested;
    }
    const digest = expectedDigest(onnx).hex;
    const pooled =
      token === "none"
        ? "pooler_output"
        : `${token === "cls+mean" ? "CLS token + mean patch token (DINOv2 linear probe)" : token === "cls" ? "CLS token" : "mean patch token"} of last_hidden_state${registers ? `, ${registers} register tokens skipped` : ""}`;
    return {
      model: local(onnx.path),
      inputName: input.name,
      size: size.height,
      preprocessing,
      output,
      token,
      prefixTokens: 1 + registers,
      inputType: input.type,
      description: `${src.repo}@${commit.slice(0, 12)} ${onnx.path} (${pooled})`,
      provenance: {
        source: `hf://${src.repo}@${commit}`,
        file: onnx.path,
        sha256: digest,
        ...(modelConfig?.success && modelConfig.data.model_type ? { modelType: modelConfig.data.model_type } : {}),
      },
      repo: src.repo,
      commit,
      file: onnx.path,
      sha256: digest,
      bytes: onnx.lfs?.size ?? onnx.size,
    };
  } finally {
    await session.release();
  }
}
