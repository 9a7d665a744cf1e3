// Reading repositories from the Hugging Face Hub over its HTTP API, as huggingface_hub does: HF_ENDPOINT picks the
// hub, HF_TOKEN authenticates (Authorization: Bearer; never logged), a revision is pinned to its commit before any
// file is read, transient failures (network errors, 429, 5xx, bodies cut short) are retried with backoff, and every
// download is checked against the size and hash the tree listing promised.
import { createHash } from "node:crypto";
import { z } from "zod";

export type HubRepoType = "model" | "dataset";

export interface HubClientOptions {
  /** Hub base URL (default https://huggingface.co). */
  endpoint?: string;
  token?: string;
  fetch?: typeof fetch;
  /** Attempts per request, the first included (default 4). */
  attempts?: number;
  /** First backoff delay; doubles per attempt (default 500 ms). */
  backoffMs?: number;
  /** Called before each retry, for progress output. */
  onRetry?: (what: string, attempt: number, reason: string) => void;
}

/** Hub settings from the environment, as Hugging Face's own tools read them. */
export function hubOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Pick<HubClientOptions, "endpoint" | "token"> {
  const token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
  return { endpoint: env.HF_ENDPOINT || "https://huggingface.co", ...(token ? { token } : {}) };
}

const TreeEntrySchema = z.object({
  type: z.enum(["file", "directory"]),
  path: z.string(),
  size: z.number().int().min(0).optional(),
  oid: z.string().optional(),
  lfs: z.object({ oid: z.string(), size: z.number().int().min(0) }).optional(),
});
export type TreeEntry = z.infer<typeof TreeEntrySchema>;

export class HubError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly transient = false,
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class HubClient {
  readonly endpoint: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #onRetry: HubClientOptions["onRetry"];

  constructor(options: HubClientOptions = {}) {
    this.endpoint = (options.endpoint ?? "https://huggingface.co").replace(/\/+$/, "");
    this.#token = options.token;
    this.#fetch = options.fetch ?? fetch;
    this.#attempts = Math.max(1, options.attempts ?? 4);
    this.#backoffMs = options.backoffMs ?? 500;
    this.#onRetry = options.onRetry;
  }

  /** The commit a branch, tag or commit id names now. */
  async resolveRevision(type: HubRepoType, repo: string, revision: string): Promise<string> {
    const url = `${this.endpoint}/api/${type}s/${repo}/revision/${encodeURIComponent(revision)}`;
    const body = await this.#retrying(`${repo}@${revision}`, async () => (await this.#get(url, repo)).json());
    const parsed = z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/) }).safeParse(body);
    if (!parsed.success) throw new HubError(`${this.endpoint} answered ${repo}@${revision} without a commit sha`);
    return parsed.data.sha;
  }

  /** Every file under `path` (recursively), following the Link header's pages. */
  async listFiles(type: HubRepoType, repo: string, revision: string, path = ""): Promise<TreeEntry[]> {
    let url: string | undefined =
      `${this.endpoint}/api/${type}s/${repo}/tree/${encodeURIComponent(revision)}${path ? `/${path}` : ""}?recursive=true`;
    const out: TreeEntry[] = [];
    while (url) {
      const pageUrl: string = url;
      const res = await this.#retrying(`tree of ${repo}`, () => this.#get(pageUrl, repo));
      const page = z.array(TreeEntrySchema).safeParse(await res.json());
      if (!page.success) throw new HubError(`${this.endpoint}: unexpected tree listing for ${repo}`);
      out.push(...page.data.filter((e) => e.type === "file"));
      url = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get("link") ?? "")?.[1];
    }
    return out;
  }

  /**
   * Downloads one file of a pinned revision. Checks the size and, for LFS files, the sha256 the tree listed (or the
   * X-Linked-Etag the hub sent); a mismatch or a body cut short is retried, then reported.
   */
  async download(type: HubRepoType, repo: string, revision: string, file: TreeEntry): Promise<Uint8Array> {
    const prefix = type === "dataset" ? "datasets/" : "";
    const url = `${this.endpoint}/${prefix}${repo}/resolve/${encodeURIComponent(revision)}/${file.path
      .split("/")
      .map(encodeURIComponent)
      .join("/")}`;
    const size = file.lfs?.size ?? file.size;
    return this.#retrying(file.path, async () => {
      const res = await this.#get(url, repo);
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await res.arrayBuffer());
      } catch (error) {
        throw new HubError(`${file.path}: download interrupted (${(error as Error).message})`, undefined, true);
      }
      if (size !== undefined && bytes.byteLength !== size) {
        throw new HubError(`${file.path}: got ${bytes.byteLength} bytes, the tree lists ${size}`, undefined, true);
      }
      const linked = (res.headers.get("x-linked-etag") ?? res.headers.get("etag") ?? "").replace(/^W\//, "");
      const expected = file.lfs?.oid ?? /^"?([0-9a-f]{64})"?$/.exec(linked)?.[1];
      if (expected) {
        const got = createHash("sha256").update(bytes).digest("hex");
        if (got !== expected)
          throw new HubError(`${file.path}: sha256 ${got} is not the listed ${expected}`, undefined, true);
      }
      return bytes;
    });
  }

  async #get(url: string, repo: string): Promise<Response> {
    let res: Response;
    try {
      res = await this.#fetch(url, {
        headers: { ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}), "user-agent": "roadwork-miner" },
        redirect: "follow",
      });
    } catch (error) {
      throw new HubError(`cannot reach ${this.endpoint}: ${(error as Error).message}`, undefined, true);
    }
    if (res.ok) return res;
    await res.body?.cancel().catch(() => {});
    const code = res.headers.get("x-error-code");
    if (res.status === 401 || res.status === 403) {
      throw new HubError(
        `${this.endpoint} refused access to ${repo} (HTTP ${res.status}); ${this.#token ? "HF_TOKEN lacks read access to it" : "it may be private or gated: set HF_TOKEN to a token with read access"}`,
        res.status,
      );
    }
    if (res.status === 404) {
      const what =
        code === "RevisionNotFound" ? "revision" : code === "EntryNotFound" ? "file" : "repository (or it is private)";
      const hint = !this.#token && what.startsWith("repository") ? "; if it is private or gated, set HF_TOKEN" : "";
      throw new HubError(`${this.endpoint}: ${what} not found for ${repo} (${new URL(url).pathname})${hint}`, 404);
    }
    const transient = res.status === 429 || res.status >= 500;
    const retryAfter = Number(res.headers.get("retry-after"));
    const error = new HubError(`${this.endpoint} answered HTTP ${res.status} for ${repo}`, res.status, transient);
    if (transient && Number.isFinite(retryAfter) && retryAfter > 0) {
      (error as HubError & { retryAfterMs?: number }).retryAfterMs = Math.min(retryAfter, 60) * 1000;
    }
    throw error;
  }

  async #retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        const e = error as HubError & { retryAfterMs?: number };
        if (!(e instanceof HubError) || !e.transient || attempt >= this.#attempts) throw error;
        this.#onRetry?.(what, attempt, e.message);
        await sleep(e.retryAfterMs ?? this.#backoffMs * 2 ** (attempt - 1));
      }
    }
  }
}

/** Parses `hf://datasets/<org>/<name>[@revision]` (or a model, `hf://<org>/<name>[@revision]`). */
export function parseHfUri(uri: string): { type: HubRepoType; repo: string; revision: string } {
  const m = /^hf:\/\/(datasets\/)?([A-Za-z0-9][\w.-]*\/[\w.-]+)(?:@(.+))?$/.exec(uri);
  if (!m) {
    throw new Error(
      `'${uri}' is not hf://datasets/<org>/<name>[@revision] (e.g. hf://datasets/natix-network-org/roadwork)`,
    );
  }
  return { type: m[1] ? "dataset" : "model", repo: m[2]!, revision: m[3] ?? "main" };
}
