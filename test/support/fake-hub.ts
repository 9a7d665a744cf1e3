// A loopback Hugging Face Hub implementing the endpoints @huggingface/hub 2.x calls for whoami, repo info/create,
// preupload, LFS batch + basic upload, NDJSON commit, and — for model and dataset repos alike — revision info, tree
// listing (recursive or not, paginated with a Link header) and file resolve (LFS files redirect to a CDN path with
// X-Linked-Size/X-Linked-Etag, as the Hub does), with the same request and response shapes, plus injectable faults
// (status codes, slow responses, malformed JSON, bodies cut short, concurrent pushes).
//
// Tests register files per repo with `addFiles` (any bytes: parquet shards, ONNX models, JSON configs) and name
// revisions with `setRef`; private repos need a token registered with `addToken`.
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeToken {
  user: string;
  role: "read" | "write" | "admin" | "fineGrained";
  orgs?: string[];
  fineGrained?: { scoped: { entity: { type: string; name: string }; permissions: string[] }[] };
}

interface StoredFile {
  content: Uint8Array;
  lfs: boolean;
}

interface Commit {
  oid: string;
  files: Map<string, StoredFile>;
}

export type RepoType = "model" | "dataset";

interface Repo {
  type: RepoType;
  private: boolean;
  commits: Commit[];
  /** Branch and tag names → commit oid ("main" is always the head). */
  refs: Map<string, string>;
}

export interface Fault {
  method?: string;
  /** Matches when the request path contains this. */
  path: string | RegExp;
  times?: number;
  status?: number;
  body?: string;
  contentType?: string;
  delayMs?: number;
  /** Serve only this many bytes of a file body, then drop the connection (a transfer cut short). */
  truncateAfter?: number;
}

export interface RequestLog {
  method: string;
  path: string;
  status: number;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const gitOid = (b: Uint8Array) => createHash("sha1").update(`blob ${b.byteLength}\0`).update(b).digest("hex");
const lfsPointer = (b: Uint8Array) =>
  new TextEncoder().encode(
    `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(b)}\nsize ${b.byteLength}\n`,
  );

export class FakeHub {
  readonly repos = new Map<string, Repo>();
  readonly lfs = new Map<string, Uint8Array>();
  readonly tokens = new Map<string, FakeToken>();
  readonly requests: RequestLog[] = [];
  private faults: (Fault & { left: number })[] = [];
  /** Runs once right before the next commit is applied (to simulate a concurrent push). */
  beforeNextCommit: ((hub: FakeHub, repo: string) => void) | undefined;
  private server: Server | undefined;
  url = "";
  /** Entries per page of a tree listing; further pages are linked with `Link: <…>; rel="next"`. */
  treePageSize = 1000;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        if (!res.headersSent) this.json(res, 500, { error: String(error) });
        else res.destroy();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }

  addToken(token: string, info: FakeToken): void {
    this.tokens.set(token, info);
  }

  clearFaults(): void {
    this.faults = [];
    this.beforeNextCommit = undefined;
  }

  inject(fault: Fault): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  /** The key of a repo in `repos`: model repos by name (as before), dataset repos as `datasets/<name>`. */
  static key(name: string, type: RepoType = "model"): string {
    return type === "dataset" ? `datasets/${name}` : name;
  }

  /**
   * Commits files to a repo, creating it when absent, and returns the commit oid. Files count as LFS when `lfs` says
   * so (default: weights, parquet and anything of 10 MB or more, as the Hub's .gitattributes would).
   */
  addFiles(
    name: string,
    files: Record<string, Uint8Array>,
    opts: { type?: RepoType; private?: boolean; lfs?: (path: string) => boolean } = {},
  ): string {
    const key = FakeHub.key(name, opts.type);
    if (!this.repos.has(key)) this.createRepo(name, { private: opts.private ?? false, type: opts.type ?? "model" });
    const repo = this.repos.get(key)!;
    const next = new Map(this.head(repo).files);
    const lfs = opts.lfs ?? ((p: string) => isLfs(p, files[p]!.byteLength) || p.endsWith(".parquet"));
    for (const [p, c] of Object.entries(files)) next.set(p, { content: c, lfs: lfs(p) });
    const oid = randomBytes(20).toString("hex");
    repo.commits.push({ oid, files: next });
    return oid;
  }

  /** Points a branch or tag (e.g. "v1.0", "refs/convert/parquet") at a commit. */
  setRef(name: string, ref: string, oid: string, type: RepoType = "model"): void {
    const repo = this.repos.get(FakeHub.key(name, type));
    if (!repo?.commits.some((c) => c.oid === oid)) throw new Error(`no commit ${oid} in ${name}`);
    repo.refs.set(ref, oid);
  }

  /** Creates a repo directly (e.g. a pre-existing private one). */
  createRepo(name: string, opts: { private?: boolean; type?: RepoType } = {}): void {
    const init = new Map<string, StoredFile>([
      [
        ".gitattributes",
        { content: new TextEncoder().encode("*.onnx filter=lfs diff=lfs merge=lfs -text\n"), lfs: false },
      ],
    ]);
    this.repos.set(FakeHub.key(name, opts.type), {
      type: opts.type ?? "model",
      private: opts.private ?? false,
      commits: [{ oid: randomBytes(20).toString("hex"), files: init }],
      refs: new Map(),
    });
  }

  /** Pushes a commit as another client would. */
  pushCommit(name: string, files: Record<string, Uint8Array>): string {
    const repo = this.repos.get(name)!;
    const next = new Map(this.head(repo).files);
    for (const [p, c] of Object.entries(files)) next.set(p, { content: c, lfs: p.endsWith(".onnx") });
    const oid = randomBytes(20).toString("hex");
    repo.commits.push({ oid, files: next });
    return oid;
  }

  head(repo: Repo): Commit {
    return repo.commits[repo.commits.length - 1]!;
  }

  headFiles(name: string): Map<string, StoredFile> | undefined {
    const r = this.repos.get(name);
    return r ? this.head(r).files : undefined;
  }

  commitCount(name: string): number {
    return this.repos.get(name)?.commits.length ?? 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const method = req.method ?? "GET";
    const body = await readBody(req);
    const path = decodeURIComponent(url.pathname);
    res.on("close", () => this.requests.push({ method, path, status: res.statusCode }));

    const fault = this.faults.find(
      (f) =>
        f.left > 0 &&
        (!f.method || f.method === method) &&
        (typeof f.path === "string" ? path.includes(f.path) : f.path.test(path)),
    );
    let truncateAfter: number | undefined;
    if (fault) {
      fault.left--;
      truncateAfter = fault.truncateAfter;
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault.status || fault.body !== undefined) {
        res.writeHead(fault.status ?? 200, { "content-type": fault.contentType ?? "application/json" });
        res.end(fault.body ?? JSON.stringify({ error: `injected ${fault.status}` }));
        return;
      }
      if (res.destroyed) return;
    }

    const token = (req.headers.authorization ?? "").replace(/^Bearer\s+/i, "");
    const who = this.tokens.get(token);
    let m: RegExpMatchArray | null;

    if (method === "GET" && path === "/api/whoami-v2") {
      if (!who) return this.json(res, 401, { error: "Invalid credentials in Authorization header" });
      return this.json(res, 200, {
        type: "user",
        id: `id-${who.user}`,
        name: who.user,
        fullname: who.user,
        email: `${who.user}@example.test`,
        emailVerified: true,
        isPro: false,
        canPay: false,
        avatarUrl: "",
        periodEnd: null,
        billingMode: "prepaid",
        orgs: (who.orgs ?? []).map((o) => ({ type: "org", id: `id-${o}`, name: o, fullname: o })),
        auth: {
          type: "access_token",
          accessToken: {
            displayName: "test",
            role: who.role,
            createdAt: "2026-01-01T00:00:00.000Z",
            ...(who.fineGrained ? { fineGrained: who.fineGrained } : {}),
          },
        },
      });
    }

    if (method === "POST" && path === "/api/repos/create") {
      if (!who) return this.json(res, 401, { error: "Invalid credentials" });
      if (!this.canWrite(who, String(JSON.parse(body.toString()).organization)))
        return this.json(res, 403, { error: "You don't have the rights to create a model under this namespace" });
      const p = JSON.parse(body.toString()) as {
        name: string;
        organization: string;
        visibility?: string;
        type: string;
      };
      const name = `${p.organization}/${p.name}`;
      if (this.repos.has(name))
        return this.json(res, 409, { error: "You already created this model repo", url: `${this.url}/${name}` });
      this.createRepo(name, { private: p.visibility === "private" });
      return this.json(res, 200, { url: `${this.url}/${name}`, name, id: `id-${name}` });
    }

    m = method === "POST" ? path.match(/^\/api\/models\/([^/]+\/[^/]+)\/preupload\/([^/]+)$/) : null;
    if (m) {
      const repo = this.writable(m[1]!, who, res);
      if (!repo) return;
      const p = JSON.parse(body.toString()) as { files: { path: string; size: number; sample: string }[] };
      return this.json(res, 200, {
        files: p.files.map((f) => ({
          path: f.path,
          uploadMode: isLfs(f.path, f.size) ? "lfs" : "regular",
          shouldIgnore: false,
        })),
      });
    }

    m = method === "POST" ? path.match(/^\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/) : null;
    if (m) {
      const repo = this.writable(m[1]!, who, res);
      if (!repo) return;
      const p = JSON.parse(body.toString()) as {
        operation: string;
        transfers: string[];
        objects: { oid: string; size: number }[];
      };
      if (p.operation !== "upload" || !p.transfers.includes("basic"))
        return this.json(res, 422, { message: "bad batch" });
      res.writeHead(200, { "content-type": "application/vnd.git-lfs+json" });
      res.end(
        JSON.stringify({
          transfer: "basic",
          objects: p.objects.map((o) =>
            this.lfs.has(o.oid)
              ? { oid: o.oid, size: o.size }
              : {
                  oid: o.oid,
                  size: o.size,
                  authenticated: true,
                  actions: { upload: { href: `${this.url}/_lfs/${o.oid}?size=${o.size}`, expires_in: 3600 } },
                },
          ),
        }),
      );
      return;
    }

    m = method === "PUT" ? path.match(/^\/_lfs\/([0-9a-f]{64})$/) : null;
    if (m) {
      if (sha256(body) !== m[1] || String(body.byteLength) !== url.searchParams.get("size")) {
        return this.json(res, 400, { error: "sha256 or size mismatch" });
      }
      this.lfs.set(m[1]!, new Uint8Array(body));
      res.writeHead(200, { etag: `"${m[1]}"` });
      res.end();
      return;
    }

    m = method === "POST" ? path.match(/^\/api\/models\/([^/]+\/[^/]+)\/commit\/([^/]+)$/) : null;
    if (m) {
      const name = m[1]!;
      const repo = this.writable(name, who, res);
      if (!repo) return;
      if (req.headers["content-type"] !== "application/x-ndjson")
        return this.json(res, 400, { error: "expected ndjson" });
      const lines = body
        .toString()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
      const header = lines[0];
      if (header?.key !== "header") return this.json(res, 400, { error: "first line must be the header" });
      if (this.beforeNextCommit) {
        const hook = this.beforeNextCommit;
        this.beforeNextCommit = undefined;
        hook(this, name);
      }
      const parent = header.value.parentCommit as string | undefined;
      if (parent && parent !== this.head(repo).oid) {
        return this.json(res, 412, { error: "A commit has happened since. Please refresh and try again." });
      }
      const files = new Map(this.head(repo).files);
      for (const op of lines.slice(1)) {
        const v = op.value as { path: string; content?: string; encoding?: string; oid?: string; size?: number };
        if (op.key === "file") {
          files.set(v.path, { content: new Uint8Array(Buffer.from(v.content ?? "", "base64")), lfs: false });
        } else if (op.key === "lfsFile") {
          const blob = this.lfs.get(v.oid ?? "");
          if (!blob || blob.byteLength !== v.size)
            return this.json(res, 422, { error: `LFS object ${v.oid} was not uploaded` });
          files.set(v.path, { content: blob, lfs: true });
        } else if (op.key === "deletedFile") {
          if (!files.delete(v.path)) return this.json(res, 404, { error: `${v.path} does not exist` });
        } else {
          return this.json(res, 400, { error: `unknown key ${op.key}` });
        }
      }
      const oid = randomBytes(20).toString("hex");
      repo.commits.push({ oid, files });
      return this.json(res, 200, {
        success: true,
        commitOid: oid,
        commitUrl: `${this.url}/${name}/commit/${oid}`,
        hookOutput: "",
      });
    }

    if (await this.handleRead(req, res, url, method, who, truncateAfter)) return;

    this.json(res, 404, { error: `no route ${method} ${path}` });
  }

  /**
   * Revision info, tree and resolve for models and datasets. The raw path is split before decoding, so a revision
   * such as refs%2Fconvert%2Fparquet stays one segment, as on the Hub.
   */
  private async handleRead(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    method: string,
    who: FakeToken | undefined,
    truncateAfter: number | undefined,
  ): Promise<boolean> {
    const seg = url.pathname.split("/").slice(1).map(decodeURIComponent);
    const notFound = (error: string, code: string): true => {
      this.json(res, 404, { error }, { "x-error-code": code });
      return true;
    };

    if (method === "GET" && seg[0] === "_cdn" && seg.length === 2) {
      const blob = [...this.repos.values()]
        .flatMap((r) => r.commits.flatMap((c) => [...c.files.values()]))
        .find((f) => f.lfs && sha256(f.content) === seg[1]);
      if (!blob) return notFound("Entry not found", "EntryNotFound");
      this.sendFile(req, res, blob.content, { etag: `"${seg[1]}"` }, truncateAfter);
      return true;
    }

    if (method === "GET" && seg[0] === "api" && (seg[1] === "models" || seg[1] === "datasets") && seg.length >= 6) {
      const type: RepoType = seg[1] === "datasets" ? "dataset" : "model";
      const name = `${seg[2]}/${seg[3]}`;
      const action = seg[4];
      if (action !== "revision" && action !== "tree") return false;
      const repo = this.readable(FakeHub.key(name, type), who);
      if (!repo) return notFound("Repository not found", "RepoNotFound");
      const commit = this.revision(repo, seg[5]!);
      if (!commit) return notFound(`Invalid rev id: ${seg[5]}`, "RevisionNotFound");
      if (action === "revision") {
        this.json(res, 200, {
          _id: `id-${name}`,
          id: name,
          private: repo.private,
          sha: commit.oid,
          ...(type === "model" ? { pipeline_tag: "image-classification" } : {}),
          downloads: 0,
          gated: false,
          likes: 0,
          lastModified: "2026-11-22T00:00:00.000Z",
          siblings: [...commit.files.keys()].map((rfilename) => ({ rfilename })),
        });
        return true;
      }
      const dir = seg.slice(6).join("/");
      const recursive = url.searchParams.get("recursive") === "true" || url.searchParams.get("recursive") === "1";
      const entries = this.treeEntries(commit, dir, recursive);
      if (dir && entries.length === 0) return notFound(`${dir} does not exist`, "EntryNotFound");
      const start = Number(url.searchParams.get("cursor") ?? 0);
      const page = entries.slice(start, start + this.treePageSize);
      const headers: Record<string, string> = {};
      if (start + this.treePageSize < entries.length) {
        const next = new URL(url.toString());
        next.searchParams.set("cursor", String(start + this.treePageSize));
        headers.link = `<${next.toString()}>; rel="next"`;
      }
      this.json(res, 200, page, headers);
      return true;
    }

    // /<ns>/<name>/resolve/<rev>/<path> for models, /datasets/<ns>/<name>/resolve/<rev>/<path> for datasets.
    if (method !== "GET" && method !== "HEAD") return false;
    const type: RepoType = seg[0] === "datasets" ? "dataset" : "model";
    const s = type === "dataset" ? seg.slice(1) : seg;
    if (s.length < 5 || s[2] !== "resolve") return false;
    const name = `${s[0]}/${s[1]}`;
    const repo = this.readable(FakeHub.key(name, type), who);
    if (!repo) return notFound("Repository not found", "RepoNotFound");
    const commit = this.revision(repo, s[3]!);
    if (!commit) return notFound(`Invalid rev id: ${s[3]}`, "RevisionNotFound");
    const file = commit.files.get(s.slice(4).join("/"));
    if (!file) return notFound("Entry not found", "EntryNotFound");
    const common = { "x-repo-commit": commit.oid };
    if (file.lfs) {
      const oid = sha256(file.content);
      res.writeHead(302, {
        ...common,
        location: `${this.url}/_cdn/${oid}`,
        etag: `"${oid}"`,
        "x-linked-etag": `"${oid}"`,
        "x-linked-size": String(file.content.byteLength),
        "content-length": "0",
      });
      res.end();
      return true;
    }
    this.sendFile(req, res, file.content, { ...common, etag: `"${gitOid(file.content)}"` }, truncateAfter);
    return true;
  }

  private treeEntries(commit: Commit, dir: string, recursive: boolean): unknown[] {
    const prefix = dir ? `${dir}/` : "";
    const out: { path: string; entry: unknown }[] = [];
    const dirs = new Set<string>();
    for (const [p, f] of commit.files) {
      if (!p.startsWith(prefix)) continue;
      const rest = p.slice(prefix.length);
      const parts = rest.split("/");
      for (let i = 1; i < parts.length && (recursive || i === 1); i++) dirs.add(prefix + parts.slice(0, i).join("/"));
      if (!recursive && parts.length > 1) continue;
      const pointer = lfsPointer(f.content);
      out.push({
        path: p,
        entry: f.lfs
          ? {
              type: "file",
              oid: gitOid(pointer),
              size: f.content.byteLength,
              path: p,
              lfs: { oid: sha256(f.content), size: f.content.byteLength, pointerSize: pointer.byteLength },
            }
          : { type: "file", oid: gitOid(f.content), size: f.content.byteLength, path: p },
      });
    }
    for (const d of dirs) {
      out.push({
        path: d,
        entry: { type: "directory", oid: createHash("sha1").update(d).digest("hex"), size: 0, path: d },
      });
    }
    return out.sort((a, b) => a.path.localeCompare(b.path)).map((e) => e.entry);
  }

  /** Sends file bytes with Range support; `truncateAfter` cuts the body short and drops the connection. */
  private sendFile(
    req: IncomingMessage,
    res: ServerResponse,
    content: Uint8Array,
    extra: Record<string, string>,
    truncateAfter: number | undefined,
  ): void {
    const total = content.byteLength;
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      "accept-ranges": "bytes",
      ...extra,
    };
    let status = 200;
    let body = content;
    const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ""));
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(total - 1, range[2] ? Number(range[2]) : total - 1);
      status = 206;
      headers["content-range"] = `bytes ${start}-${end}/${total}`;
      body = content.subarray(start, end + 1);
    }
    headers["content-length"] = String(body.byteLength);
    res.writeHead(status, headers);
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    if (truncateAfter !== undefined && truncateAfter < body.byteLength) {
      res.write(Buffer.from(body.subarray(0, truncateAfter)), () => res.destroy());
      return;
    }
    res.end(Buffer.from(body));
  }

  private revision(repo: Repo, rev: string): Commit | undefined {
    if (rev === "main" || rev === "HEAD") return this.head(repo);
    const ref = repo.refs.get(rev);
    return repo.commits.find((c) => c.oid === (ref ?? rev));
  }

  private readable(name: string, who: FakeToken | undefined): Repo | undefined {
    const repo = this.repos.get(name);
    if (!repo) return undefined;
    const namespace = name.replace(/^datasets\//, "").split("/")[0]!;
    if (repo.private && !(who && this.canRead(who, namespace))) return undefined;
    return repo;
  }

  private writable(name: string, who: FakeToken | undefined, res: ServerResponse): Repo | undefined {
    if (!who) {
      this.json(res, 401, { error: "Invalid credentials" });
      return undefined;
    }
    const repo = this.repos.get(name);
    if (!repo) {
      this.json(res, 404, { error: "Repository not found" }, { "x-error-code": "RepoNotFound" });
      return undefined;
    }
    if (!this.canWrite(who, name.split("/")[0]!)) {
      this.json(res, 403, { error: "You don't have the rights to write to this repo" });
      return undefined;
    }
    return repo;
  }

  private canRead(who: FakeToken, ns: string): boolean {
    return (
      who.user === ns ||
      (who.orgs ?? []).includes(ns) ||
      Boolean(who.fineGrained?.scoped.some((s) => s.entity.name === ns))
    );
  }

  private canWrite(who: FakeToken, ns: string): boolean {
    if (who.role === "read") return false;
    if (who.role === "fineGrained") {
      return Boolean(who.fineGrained?.scoped.some((s) => s.entity.name === ns && s.permissions.includes("repo.write")));
    }
    return who.user === ns || (who.orgs ?? []).includes(ns);
  }

  private json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(value));
  }
}

function isLfs(path: string, size: number): boolean {
  return /\.(onnx|bin|safetensors|pt|npz)$/.test(path) || size >= 10 * 1024 * 1024;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
