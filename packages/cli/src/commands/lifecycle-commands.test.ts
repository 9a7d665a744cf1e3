// The operator's lifecycle commands end to end over loopback: publish a bundle folder to a fake Hugging Face Hub,
// register it with a fake NATIX that verifies the signature, and read the decay clock from a record file.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeHub } from "../../../../test/support/fake-hub.ts";
import { FakeNatix } from "../../../lifecycle/test/support/fake-natix.ts";
import { tinyRoadworkOnnx } from "../../../lifecycle/test/support/tiny-onnx.ts";
import { command as decay } from "./decay.ts";
import { command as publish } from "./publish.ts";
import { command as register } from "./register.ts";

const TOKEN = "hf_cliTOKENabcdefghijklmnopqrs";
const BOB = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";

async function capture(
  fn: () => Promise<number | undefined>,
): Promise<{ code: number | undefined; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    return { code: await fn(), out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

describe("roadwork publish / register / decay", () => {
  let hub: FakeHub;
  let natix: FakeNatix;
  let dir: string;
  before(async () => {
    hub = await new FakeHub().start();
    hub.addToken(TOKEN, { user: "alice", role: "write", orgs: ["roadwork-test"] });
    natix = await new FakeNatix().start();
    dir = await mkdtemp(join(tmpdir(), "roadwork-cli-"));
    await mkdir(join(dir, "bundle", "heads"), { recursive: true });
    await writeFile(join(dir, "bundle", "heads", "roadwork.onnx"), tinyRoadworkOnnx());
    await writeFile(join(dir, "bundle", "manifest.json"), JSON.stringify({ version: "2.1.0" }));
    await writeFile(join(dir, "bundle", "metrics.json"), JSON.stringify({ mcc: 0.7, accuracy: 0.88 }));
    process.env.HF_TOKEN = TOKEN;
    process.env.HF_ENDPOINT = hub.url;
    process.env.ROADWORK_HOTKEY_MNEMONIC = "//Bob";
  });
  after(() => Promise.all([hub.stop(), natix.stop()]));

  it("publish: bundle folder -> public repo with model_card.json signed by the hotkey", async () => {
    const r = await capture(() =>
      publish.run([
        "--bundle",
        join(dir, "bundle"),
        "--repo",
        "roadwork-test/cli-model",
        "--submission-time",
        "1767225600",
      ]),
    );
    assert.equal(r.code, 0);
    const out = JSON.parse(r.out) as { commit: string; version: string; submittedBy: string; unchanged: boolean };
    assert.equal(out.version, "2.1.0");
    assert.equal(out.submittedBy, BOB);
    assert.equal(out.unchanged, false);
    const files = hub.headFiles("roadwork-test/cli-model")!;
    assert.ok(files.get("heads/roadwork.onnx")?.lfs);
    assert.equal(
      JSON.parse(new TextDecoder().decode(files.get("model_card.json")!.content)).submission_time,
      1767225600,
    );
    const again = await capture(() =>
      publish.run([
        "--bundle",
        join(dir, "bundle"),
        "--repo",
        "roadwork-test/cli-model",
        "--submission-time",
        "1767225600",
      ]),
    );
    assert.equal(JSON.parse(again.out).unchanged, true);
  });

  it("publish: one version names one model; a trainer's build metadata is dropped for the card", async () => {
    await writeFile(join(dir, "bundle", "calibration.json"), JSON.stringify({ threshold: 0.41 })); // another model
    const clash = await capture(() =>
      publish.run([
        "--bundle",
        join(dir, "bundle"),
        "--repo",
        "roadwork-test/cli-model",
        "--submission-time",
        "1767225601",
      ]),
    ).catch((error: Error) => ({ code: -1, out: "", err: error.message }));
    assert.match(clash.err, /already holds version 2\.1\.0 with different model files.*--version 2\.2\.0/);
    await writeFile(join(dir, "bundle", "manifest.json"), JSON.stringify({ version: "2.2.0+ab12cd34ef56" }));
    const next = await capture(() =>
      publish.run([
        "--bundle",
        join(dir, "bundle"),
        "--repo",
        "roadwork-test/cli-model",
        "--submission-time",
        "1767225602",
      ]),
    );
    assert.equal(next.code, 0, next.err);
    assert.equal(JSON.parse(next.out).version, "2.2.0");
    await writeFile(join(dir, "bundle", "manifest.json"), JSON.stringify({ version: "2.2" }));
    await assert.rejects(
      publish.run(["--bundle", join(dir, "bundle"), "--repo", "roadwork-test/cli-model"]),
      /the manifest's version '2\.2' is not X\.Y\.Z/,
    );
  });

  it("publish refuses the demo model unless --allow-demo", async () => {
    const demo = join(dir, "demo");
    await mkdir(demo, { recursive: true });
    await writeFile(join(demo, "model.onnx"), tinyRoadworkOnnx());
    await writeFile(
      join(demo, "manifest.json"),
      JSON.stringify({
        name: "roadwork-demo",
        version: "1.0.0+0123456789ab",
        training: { dataset: { name: "roadwork-demo-procedural", source: "procedural" } },
      }),
    );
    await assert.rejects(
      publish.run(["--bundle", demo, "--repo", "roadwork-test/demo-model"]),
      /is the demo model \(trained on the procedural dataset 'roadwork-demo-procedural'\).*--allow-demo/,
    );
    const forced = await capture(() =>
      publish.run(["--bundle", demo, "--repo", "roadwork-test/demo-model", "--allow-demo"]),
    );
    assert.equal(forced.code, 0, forced.err);
  });

  it("publish without HF_TOKEN says what to do", async () => {
    const saved = process.env.HF_TOKEN;
    delete process.env.HF_TOKEN;
    try {
      await assert.rejects(publish.run(["--bundle", dir, "--repo", "a/b"]), /set HF_TOKEN/);
    } finally {
      process.env.HF_TOKEN = saved;
    }
  });

  it("register: signed registration accepted, status polled to success", async () => {
    natix.statusScript = [{ status: "processing" }, { status: "succeeded" }];
    const r = await capture(() =>
      register.run([
        "--uid",
        "10",
        "--repo",
        "roadwork-test/cli-model",
        "--base-url",
        natix.url,
        "--interval",
        "0.01",
        "--timeout",
        "5",
      ]),
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).status, "succeeded");
    assert.equal(natix.registrations.at(-1)?.natix_public_key, BOB);
    const s = await capture(() => register.run(["--status", "--uid", "10", "--base-url", natix.url]));
    assert.equal(JSON.parse(s.out).status, "succeeded");
  });

  it("register: a failed registration exits 1 with NATIX's reason", async () => {
    natix.statusScript = [{ status: "failed", error_message: "repo not public" }];
    const r = await capture(() =>
      register.run(["--uid", "10", "--repo", "roadwork-test/cli-model", "--base-url", natix.url, "--interval", "0.01"]),
    );
    assert.equal(r.code, 1);
    assert.match(r.err, /repo not public/);
  });

  it("decay: from a record file, with days, factor, next alert and retrain", async () => {
    const record = {
      schemaVersion: 1,
      version: "2.1.0",
      bundlePrefix: "models/bundles/2.1.0/",
      hfRepo: "roadwork-test/cli-model",
      hfCommitSha: "b".repeat(40),
      submissionTime: 1767225600,
      submittedBy: BOB,
      registration: { status: "succeeded", uid: 10 },
      updatedAt: "2026-01-01T00:00:00.000Z",
    };
    await writeFile(join(dir, "record.json"), JSON.stringify(record));
    const r = await capture(() =>
      decay.run(["--record", join(dir, "record.json"), "--now", "2026-02-22T12:00:00Z", "--json"]),
    );
    const out = JSON.parse(r.out);
    assert.equal(out.version, "2.1.0");
    assert.equal(out.daysSinceSubmission, 52.5);
    assert.equal(out.rewardFactor, 0.833);
    assert.equal(out.phase, "decaying");
    assert.deepEqual(out.nextAlert, { id: "factor-80", inDays: 1.5, at: "2026-02-24T00:00:00.000Z" });
    assert.equal(out.retrain.due, true);
    const text = await capture(() => decay.run(["--submission-time", "1767225600", "--now", "1767225600"]));
    assert.match(text.out, /reward factor +100\.0% +\(full\)/);
    assert.match(text.out, /retrain +in 35\.00 days/);
    await assert.rejects(decay.run(["--record", join(dir, "missing.json")]), /cannot read --record .*ENOENT/);
    await assert.rejects(decay.run(["--submission-time", "1767225600000"]), /unix seconds/);
  });
});
