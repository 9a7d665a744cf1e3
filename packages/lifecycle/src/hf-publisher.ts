// Publishes a model bundle to a public Hugging Face model repo in one atomic commit (bundle + model_card.json +
// README.md), then reads it back and verifies it. Idempotent: when HEAD already holds exactly these files, nothing is
// committed and the existing commit is returned.
import { createHash } from "node:crypto";
import {
  type CommitOperation,
  commit,
  createRepo,
  downloadFile,
  HubApiError,
  type ListFileEntry,
  listFiles,
  modelInfo,
  whoAmI,
} from "@huggingface/hub";
import { MODEL_CARD_PATH, ModelCard, serializeModelCard } from "./model-card.ts";
import { HfRepoId } from "./natix-registration.ts";
import { redact } from "./redact.ts";
import { type FetchFn, type ResilientFetchOptions, resilientFetch } from "./resilient-fetch.ts";

export const README_PATH = "README.md";

export interface HubAccess {
  accessToken: string;
  /** HF_ENDPOINT override (mirrors, tests). Default https://huggingface.co. */
  hubUrl?: string;
  fetch?: FetchFn;
  retry?: ResilientFetchOptions;
}

export interface BundleFile {
  /** Path inside the repo, e.g. "model.onnx" or "heads/roadwork.onnx". */
  path: string;
  content: Uint8Array;
}

export interface PublishInput {
  hub: HubAccess;
  repo: string;
  bundleFiles: readonly BundleFile[];
  modelCard: ModelCard;
  readme: string;
  commitTitle?: string;
  log?: (event: string, data: Record<string, unknown>) => void;
}

export interface PublishedFile {
  path: string;
  size: number;
  sha256: string;
  /** true when the Hub stores it through LFS (the read-back sha256 then comes from the Hub's LFS oid). */
  lfs: boolean;
}

export interface PublishResult {
  repo: string;
  commitSha: string;
  url: string;
  /** true when HEAD already matched and no commit was made. */
  unchanged: boolean;
  createdRepo: boolean;
  files: PublishedFile[];
}

export type HubPublishErrorKind =
  | "token"
  | "permission"
  | "private_repo"
  | "conflict"
  | "verify"
  | "bad_input"
  | "bad_response"
  | "unavailable";

export class HubPublishError extends Error {
  constructor(
    message: string,
    readonly kind: HubPublishErrorKind,
  ) {
    super(message);
    this.name = "HubPublishError";
  }
}

interface DesiredFile {
  path: string;
  content: Uint8Array;
  sha256: string;
  gitOid: string;
}

export async function publishModel(input: PublishInput): Promise<PublishResult> {
  const token = input.hub.accessToken;
  try {
    return await publish(input);
  } catch (error) {
    throw toPublishError(error, [token]);
  }
}

async function publish(input: PublishInput): Promise<PublishResult> {
  const log = input.log ?? (() => {});
  const repo = HfRepoId.parse(input.repo);
  const hubUrl = (input.hub.hubUrl ?? "https://huggingface.co").replace(/\/+$/, "");
  const access = {
    accessToken: input.hub.accessToken,
    hubUrl,
    fetch: resilientFetch(input.hub.fetch ?? fetch, {
      ...input.hub.retry,
      onRetry: (info) => {
        log("hf.retry", info);
        input.hub.retry?.onRetry?.(info);
      },
    }),
  };
  const desired = desiredFiles(input);

  await checkWriteAccess(access, repo);
  const state = await ensurePublicRepo(access, repo);
  log("hf.repo", { repo, created: state.created, head: state.sha });

  let head = state.sha;
  if (head && (await matchesRemote(access, repo, head, desired))) {
    log("hf.unchanged", { repo, head });
    return verified(access, repo, head, desired, { unchanged: true, createdRepo: state.created });
  }

  if (head) await refuseVersionReuse(access, repo, head, desired, input.modelCard.version);

  const title = input.commitTitle ?? `Model ${input.modelCard.version}`;
  for (let attempt = 1; ; attempt++) {
    const stale = head ? await staleRemotePaths(access, repo, head, desired) : [];
    const operations: CommitOperation[] = [
      ...desired.map((f) => ({
        operation: "addOrUpdate" as const,
        path: f.path,
        content: new Blob([f.content as Uint8Array<ArrayBuffer>]),
      })),
      ...stale.map((path) => ({ operation: "delete" as const, path })),
    ];
    try {
      const out = await commit({
        ...access,
        repo: { type: "model", name: repo },
        title,
        operations,
        parentCommit: head,
      });
      const oid = out?.commit.oid;
      if (!oid || !/^[0-9a-f]{40}$/.test(oid)) {
        throw new HubPublishError("Hugging Face accepted the commit but returned no commit id", "bad_response");
      }
      log("hf.committed", { repo, commit: oid, files: desired.length, deleted: stale.length });
      return verified(access, repo, oid, desired, { unchanged: false, createdRepo: state.created });
    } catch (error) {
      const conflict = error instanceof HubApiError && (error.statusCode === 409 || error.statusCode === 412);
      if (!conflict || attempt > 1) throw error;
      // Someone (or our own earlier, timed-out attempt) moved the branch: re-read HEAD, maybe it is already ours.
      head = (await repoInfo(access, repo))?.sha;
      log("hf.conflict", { repo, head });
      if (head && (await matchesRemote(access, repo, head, desired))) {
        return verified(access, repo, head, desired, { unchanged: true, createdRepo: state.created });
      }
    }
  }
}

function desiredFiles(input: PublishInput): DesiredFile[] {
  const card = ModelCard.parse(input.modelCard);
  const files: BundleFile[] = [
    ...input.bundleFiles,
    { path: MODEL_CARD_PATH, content: new TextEncoder().encode(serializeModelCard(card)) },
    { path: README_PATH, content: new TextEncoder().encode(input.readme) },
  ];
  const seen = new Set<string>();
  for (const f of files) {
    if (
      !/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(f.path) ||
      f.path.split("/").some((s) => s === ".." || s === ".")
    ) {
      throw new HubPublishError(`invalid file path in bundle: '${f.path}'`, "bad_input");
    }
    if (f.path === ".gitattributes")
      throw new HubPublishError("the bundle may not contain .gitattributes", "bad_input");
    if (seen.has(f.path)) {
      throw new HubPublishError(
        `duplicate path '${f.path}' (model_card.json and README.md are generated)`,
        "bad_input",
      );
    }
    seen.add(f.path);
  }
  if (!input.bundleFiles.some((f) => f.path.endsWith(".onnx"))) {
    throw new HubPublishError("the bundle has no .onnx file; refusing to publish a model without weights", "bad_input");
  }
  return files.map((f) => ({
    path: f.path,
    content: f.content,
    sha256: createHash("sha256").update(f.content).digest("hex"),
    gitOid: gitBlobOid(f.content),
  }));
}

/** git's blob id: sha1("blob <size>\0" + content). The Hub's tree `oid` for a non-LFS file. */
export function gitBlobOid(content: Uint8Array): string {
  return createHash("sha1").update(`blob ${content.byteLength}\0`).update(content).digest("hex");
}

type Access = { accessToken: string; hubUrl: string; fetch: FetchFn };

interface FineGrainedScope {
  entity?: { type?: string; name?: string };
  permissions?: string[];
}

async function checkWriteAccess(access: Access, repo: string): Promise<void> {
  let who: Awaited<ReturnType<typeof whoAmI>>;
  try {
    who = await whoAmI(access);
  } catch (error) {
    if (error instanceof HubApiError && error.statusCode === 401) {
      throw new HubPublishError(
        "the Hugging Face token was rejected (401). Create a token with write access at " +
          "https://huggingface.co/settings/tokens and set HF_TOKEN.",
        "token",
      );
    }
    throw error;
  }
  const namespace = repo.split("/")[0]!;
  const role = who.auth?.accessToken?.role as string | undefined;
  const createHint =
    `Create a token with the "write" role (or a fine-grained token with "Write access to contents/settings of all ` +
    `repos" under ${namespace}) at https://huggingface.co/settings/tokens and set HF_TOKEN.`;
  if (role === "write" || role === "admin") {
    const names = [who.name, ...(who.type === "user" ? who.orgs.map((o) => o.name) : [])];
    if (!names.includes(namespace)) {
      throw new HubPublishError(
        `the Hugging Face token belongs to '${who.name}', who cannot write to namespace '${namespace}'. ` +
          `Use a repo under ${names.map((n) => `'${n}'`).join(", ")} or a token of a member of '${namespace}'.`,
        "permission",
      );
    }
    return;
  }
  if (role === "fineGrained") {
    const fg = (who.auth as { accessToken?: { fineGrained?: { scoped?: FineGrainedScope[]; global?: string[] } } })
      .accessToken?.fineGrained;
    const ok = fg?.scoped?.some((s) => s.entity?.name === namespace && s.permissions?.includes("repo.write"));
    if (ok) return;
    throw new HubPublishError(
      `the fine-grained Hugging Face token cannot write repos under '${namespace}'. ${createHint}`,
      "token",
    );
  }
  throw new HubPublishError(
    `the Hugging Face token is ${role ? `'${role}'` : "of unknown role"}, which cannot create or push to repos. ${createHint}`,
    "token",
  );
}

async function repoInfo(
  access: Access,
  repo: string,
): Promise<{ sha: string | undefined; private: boolean } | undefined> {
  try {
    const info = await modelInfo({ ...access, name: repo, additionalFields: ["sha"] });
    if (typeof info.private !== "boolean")
      throw new HubPublishError("Hugging Face repo info has no 'private' flag", "bad_response");
    return { sha: info.sha || undefined, private: info.private };
  } catch (error) {
    if (error instanceof HubApiError && error.statusCode === 404) return undefined;
    throw error;
  }
}

/**
 * An existing private repo is an error, not something to flip: the operator made it private on purpose and it may
 * hold more than this model. NATIX needs the model public, so say exactly that.
 */
async function ensurePublicRepo(access: Access, repo: string): Promise<{ sha: string | undefined; created: boolean }> {
  let info = await repoInfo(access, repo);
  let created = false;
  if (!info) {
    try {
      await createRepo({ ...access, repo: { type: "model", name: repo }, visibility: "public" });
      created = true;
    } catch (error) {
      if (!(error instanceof HubApiError && error.statusCode === 409)) throw error; // 409: created meanwhile
    }
    info = await repoInfo(access, repo);
    if (!info) throw new HubPublishError(`repo ${repo} still does not exist after creating it`, "bad_response");
  }
  if (info.private) {
    throw new HubPublishError(
      `Hugging Face repo ${repo} is private, but NATIX needs to read the model. Make it public ` +
        `(${access.hubUrl}/${repo}/settings) or publish to a new repo name.`,
      "private_repo",
    );
  }
  return { sha: info.sha, created };
}

async function remoteTree(access: Access, repo: string, revision: string): Promise<ListFileEntry[]> {
  const out: ListFileEntry[] = [];
  for await (const e of listFiles({ ...access, repo: { type: "model", name: repo }, revision, recursive: true })) {
    if (e.type === "file") out.push(e);
  }
  return out;
}

function sameContent(entry: ListFileEntry, want: DesiredFile): boolean {
  if (entry.size !== want.content.byteLength) return false;
  return entry.lfs ? entry.lfs.oid === want.sha256 : entry.oid === want.gitOid;
}

async function matchesRemote(access: Access, repo: string, revision: string, desired: DesiredFile[]): Promise<boolean> {
  const tree = await remoteTree(access, repo, revision);
  const byPath = new Map(tree.filter((e) => e.path !== ".gitattributes").map((e) => [e.path, e]));
  if (byPath.size !== desired.length) return false;
  return desired.every((d) => {
    const e = byPath.get(d.path);
    return e !== undefined && sameContent(e, d);
  });
}

/**
 * One name@version is one model: when HEAD's card already carries this version but the bundle files differ, the
 * operator must choose a new version (a re-publish of the same files, e.g. with a new submission time, is fine).
 */
async function refuseVersionReuse(
  access: Access,
  repo: string,
  head: string,
  desired: DesiredFile[],
  version: string,
): Promise<void> {
  const blob = await downloadFile({
    ...access,
    repo: { type: "model", name: repo },
    path: MODEL_CARD_PATH,
    revision: head,
  });
  if (!blob) return;
  let remoteVersion: unknown;
  try {
    remoteVersion = (JSON.parse(await blob.text()) as { version?: unknown }).version;
  } catch {
    return; // not our card: the commit replaces it
  }
  if (remoteVersion !== version) return;
  const bundle = desired.filter((d) => d.path !== MODEL_CARD_PATH && d.path !== README_PATH);
  const tree = await remoteTree(access, repo, head);
  const byPath = new Map(tree.map((e) => [e.path, e]));
  const same =
    tree.filter((e) => e.path !== ".gitattributes" && e.path !== MODEL_CARD_PATH && e.path !== README_PATH).length ===
      bundle.length && bundle.every((d) => byPath.has(d.path) && sameContent(byPath.get(d.path)!, d));
  if (!same) {
    throw new HubPublishError(
      `${repo} already holds version ${version} with different model files; one version names one model. ` +
        `Publish this bundle with a new version (e.g. --version ${bumpMinor(version)}).`,
      "conflict",
    );
  }
}

function bumpMinor(version: string): string {
  const m = /^(\d+)\.(\d+)\.\d+$/.exec(version);
  return m ? `${m[1]}.${Number(m[2]) + 1}.0` : version;
}

async function staleRemotePaths(access: Access, repo: string, revision: string, desired: DesiredFile[]) {
  const keep = new Set(desired.map((d) => d.path));
  const tree = await remoteTree(access, repo, revision);
  return tree.map((e) => e.path).filter((p) => p !== ".gitattributes" && !keep.has(p));
}

/** Reads the commit back: file list with sizes and hashes, the model card's bytes, and public visibility. */
async function verified(
  access: Access,
  repo: string,
  commitSha: string,
  desired: DesiredFile[],
  flags: { unchanged: boolean; createdRepo: boolean },
): Promise<PublishResult> {
  const tree = await remoteTree(access, repo, commitSha);
  const byPath = new Map(tree.map((e) => [e.path, e]));
  const files: PublishedFile[] = [];
  for (const d of desired) {
    const e = byPath.get(d.path);
    if (!e) throw new HubPublishError(`verification failed: ${d.path} is missing at commit ${commitSha}`, "verify");
    if (!sameContent(e, d)) {
      throw new HubPublishError(`verification failed: ${d.path} at ${commitSha} differs from the bundle`, "verify");
    }
    files.push({ path: d.path, size: e.size, sha256: d.sha256, lfs: e.lfs !== undefined });
  }
  const cardBlob = await downloadFile({
    ...access,
    repo: { type: "model", name: repo },
    path: MODEL_CARD_PATH,
    revision: commitSha,
  });
  const want = desired.find((d) => d.path === MODEL_CARD_PATH)!;
  const got = cardBlob ? new Uint8Array(await cardBlob.arrayBuffer()) : undefined;
  if (!got || Buffer.compare(Buffer.from(got), Buffer.from(want.content)) !== 0) {
    throw new HubPublishError(`verification failed: ${MODEL_CARD_PATH} read back differs at ${commitSha}`, "verify");
  }
  ModelCard.parse(JSON.parse(new TextDecoder().decode(got)));
  const info = await repoInfo(access, repo);
  if (!info || info.private) throw new HubPublishError(`verification failed: ${repo} is not public`, "verify");
  return { repo, commitSha, url: `${access.hubUrl}/${repo}/tree/${commitSha}`, files, ...flags };
}

function toPublishError(error: unknown, secrets: string[]): Error {
  if (error instanceof HubPublishError) return new HubPublishError(redact(error.message, secrets), error.kind);
  if (error instanceof HubApiError) {
    const s = error.statusCode;
    const kind: HubPublishErrorKind =
      s === 401
        ? "token"
        : s === 403
          ? "permission"
          : s === 409 || s === 412
            ? "conflict"
            : s >= 500 || s === 429
              ? "unavailable"
              : "bad_response";
    const hint =
      kind === "permission"
        ? " The token cannot write to this repo: use a write token for its owner."
        : kind === "unavailable"
          ? " Hugging Face is unavailable; the publish will be retried."
          : "";
    return new HubPublishError(redact(`Hugging Face API error ${s}: ${error.message}.${hint}`, secrets), kind);
  }
  if (error instanceof SyntaxError) {
    return new HubPublishError(
      redact(`Hugging Face returned an invalid response: ${error.message}`, secrets),
      "bad_response",
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new HubPublishError(redact(`publishing to Hugging Face failed: ${message}`, secrets), "unavailable");
}
