import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import { FakeHub } from "../../../test/support/fake-hub.ts";
import { HubPublishError, type PublishInput, publishModel } from "../src/hf-publisher.ts";
import { buildModelCard, serializeModelCard } from "../src/model-card.ts";

const WRITE = "hf_writeTOKENabcdefghijklmnop";
const READ = "hf_readTOKENabcdefghijklmnopq";
const FINE = "hf_fineTOKENabcdefghijklmnopq";
const BOB = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
const onnx = new Uint8Array(4096).map((_, i) => (i * 31) % 251);
const card = buildModelCard({
  modelName: "roadwork",
  description: "test",
  version: "1.0.0",
  hotkey: BOB,
  submissionTime: 1767225600,
});

describe("publishModel against a loopback Hugging Face Hub", () => {
  let hub: FakeHub;
  let repoN = 0;
  let repo = "";
  const retries: string[] = [];
  const input = (over: Partial<PublishInput> = {}): PublishInput => ({
    hub: {
      accessToken: WRITE,
      hubUrl: hub.url,
      retry: { baseDelayMs: 1, timeoutMs: 5000, onRetry: (i) => retries.push(i.reason) },
    },
    repo,
    bundleFiles: [
      { path: "model.onnx", content: onnx },
      { path: "calibration.json", content: new TextEncoder().encode('{"threshold":0.41}\n') },
    ],
    modelCard: card,
    readme: "# roadwork\n",
    ...over,
  });

  before(async () => {
    hub = await new FakeHub().start();
    hub.addToken(WRITE, { user: "alice", role: "write", orgs: ["roadwork-test"] });
    hub.addToken(READ, { user: "alice", role: "read" });
    hub.addToken(FINE, {
      user: "alice",
      role: "fineGrained",
      fineGrained: {
        scoped: [{ entity: { type: "org", name: "roadwork-test" }, permissions: ["repo.content.read", "repo.write"] }],
      },
    });
  });
  after(() => hub.stop());
  beforeEach(() => {
    repo = `roadwork-test/model-${++repoN}`;
    retries.length = 0;
    hub.clearFaults();
  });

  it("creates a public repo, commits bundle + card + README atomically (ONNX via LFS) and verifies it", async () => {
    const out = await publishModel(input());
    assert.equal(out.unchanged, false);
    assert.equal(out.createdRepo, true);
    assert.match(out.commitSha, /^[0-9a-f]{40}$/);
    assert.equal(hub.commitCount(repo), 2); // the repo's initial commit + exactly one
    const files = hub.headFiles(repo)!;
    assert.deepEqual([...files.keys()].sort(), [
      ".gitattributes",
      "README.md",
      "calibration.json",
      "model.onnx",
      "model_card.json",
    ]);
    assert.equal(files.get("model.onnx")?.lfs, true);
    assert.equal(new TextDecoder().decode(files.get("model_card.json")!.content), serializeModelCard(card));
    const onnxOut = out.files.find((f) => f.path === "model.onnx")!;
    assert.equal(onnxOut.lfs, true);
    assert.equal(onnxOut.sha256, createHash("sha256").update(onnx).digest("hex"));
    assert.equal(hub.repos.get(repo)?.private, false);
  });

  it("is idempotent: the same content again makes no commit and returns HEAD", async () => {
    const first = await publishModel(input());
    const second = await publishModel(input());
    assert.equal(second.unchanged, true);
    assert.equal(second.commitSha, first.commitSha);
    assert.equal(hub.commitCount(repo), 2);
  });

  it("a new version replaces the previous files in one commit", async () => {
    await publishModel(input());
    const card2 = { ...card, version: "1.1.0" };
    const out = await publishModel(
      input({ modelCard: card2, bundleFiles: [{ path: "model-v2.onnx", content: onnx.slice(0, 100) }] }),
    );
    assert.equal(out.unchanged, false);
    assert.deepEqual([...hub.headFiles(repo)!.keys()].sort(), [
      ".gitattributes",
      "README.md",
      "model-v2.onnx",
      "model_card.json",
    ]);
    assert.equal(hub.commitCount(repo), 3);
  });

  it("rejects a read-only token before touching the repo, telling the user to create a write token", async () => {
    await assert.rejects(publishModel(input({ hub: { accessToken: READ, hubUrl: hub.url } })), (e: unknown) => {
      assert.ok(e instanceof HubPublishError);
      assert.equal(e.kind, "token");
      assert.match(e.message, /'read'.*Create a token with the "write" role/);
      assert.ok(!e.message.includes(READ));
      return true;
    });
    assert.equal(hub.repos.has(repo), false);
  });

  it("accepts a fine-grained token with repo.write on the namespace", async () => {
    const out = await publishModel(input({ hub: { accessToken: FINE, hubUrl: hub.url } }));
    assert.equal(out.createdRepo, true);
  });

  it("refuses a namespace the token cannot write to", async () => {
    await assert.rejects(
      publishModel(input({ repo: "someone-else/model" })),
      /cannot write to namespace 'someone-else'/,
    );
  });

  it("fails clearly on an existing private repo instead of flipping it public", async () => {
    hub.createRepo(repo, { private: true });
    await assert.rejects(
      publishModel(input()),
      (e: unknown) => e instanceof HubPublishError && e.kind === "private_repo" && /is private/.test(e.message),
    );
    assert.equal(hub.commitCount(repo), 1);
  });

  it("on a commit conflict (412 on parentCommit) re-reads HEAD and retries once", async () => {
    hub.createRepo(repo);
    hub.beforeNextCommit = (h, name) => h.pushCommit(name, { "notes.txt": new TextEncoder().encode("concurrent") });
    const out = await publishModel(input());
    assert.equal(out.unchanged, false);
    assert.equal(hub.requests.filter((r) => r.path.endsWith(`${repo}/commit/main`) && r.status === 412).length, 1);
    assert.ok(!hub.headFiles(repo)!.has("notes.txt"));
    assert.equal(hub.commitCount(repo), 3);
  });

  it("retries 5xx and 429 with backoff", async () => {
    hub.inject({ method: "POST", path: "/preupload/", status: 503, times: 2 });
    hub.inject({ method: "POST", path: "/info/lfs/objects/batch", status: 429, times: 1 });
    const out = await publishModel(input());
    assert.equal(out.unchanged, false);
    assert.deepEqual(retries, ["HTTP 503", "HTTP 503", "HTTP 429"]);
  });

  it("retries a slow response after the per-attempt timeout", async () => {
    hub.inject({ method: "GET", path: "/api/whoami-v2", delayMs: 3000, times: 1 });
    const base = input();
    const out = await publishModel({ ...base, hub: { ...base.hub, retry: { ...base.hub.retry, timeoutMs: 1000 } } });
    assert.equal(out.createdRepo, true);
    assert.deepEqual(retries, ["timeout"]);
  });

  it("gives up after the last retry with an 'unavailable' error that never contains the token", async () => {
    hub.inject({ path: "/api/whoami-v2", status: 500, body: `{"error":"internal, token ${WRITE}"}`, times: 10 });
    await assert.rejects(publishModel(input()), (e: unknown) => {
      assert.ok(e instanceof HubPublishError);
      assert.equal(e.kind, "unavailable");
      assert.ok(!e.message.includes(WRITE), e.message);
      return true;
    });
  });

  it("reports malformed JSON from the Hub as a bad response", async () => {
    hub.inject({ method: "GET", path: "/revision/", status: 200, body: "{not json", times: 1 });
    await assert.rejects(
      publishModel(input()),
      (e: unknown) => e instanceof HubPublishError && e.kind === "bad_response" && /invalid response/.test(e.message),
    );
  });

  it("refuses bad bundles before any network call", async () => {
    const before = hub.requests.length;
    await assert.rejects(
      publishModel(input({ bundleFiles: [{ path: "../x.onnx", content: onnx }] })),
      /invalid file path/,
    );
    await assert.rejects(publishModel(input({ bundleFiles: [{ path: "notes.txt", content: onnx }] })), /no \.onnx/);
    await assert.rejects(
      publishModel(
        input({
          bundleFiles: [
            { path: "model.onnx", content: onnx },
            { path: "README.md", content: onnx },
          ],
        }),
      ),
      /duplicate path/,
    );
    assert.equal(hub.requests.length, before);
  });
});
