// `roadwork dataset` as an operator runs it, over real processes: import from a loopback Hugging Face hub chosen by
// HF_ENDPOINT with HF_TOKEN, then ls and show, and --help for every subcommand.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { blockImage } from "../../packages/data/test/support/images.ts";
import { FakeHub } from "../support/fake-hub.ts";
import { hfImageParquet, shardPath } from "../support/hf-parquet.ts";
import { bareEnv, runRoadwork } from "../support/roadwork-process.ts";

const TOKEN = "hf_cli_secret_token";

function roadwork(args: string[], env: Record<string, string> = {}) {
  return runRoadwork(args, { env: bareEnv(env), timeoutMs: 120_000 });
}

describe("roadwork dataset", () => {
  let hub: FakeHub;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "dataset-cli-"));
    hub = await new FakeHub().start();
    hub.addToken(TOKEN, { user: "miner", role: "read", orgs: ["natix-network-org"] });
    const rows = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => ({
        image: { bytes: await blockImage(700 + i), path: `${i}.jpg` },
        label: i === 5 ? null : i % 2,
        scene_description: `scene ${i}`,
      })),
    );
    hub.addFiles(
      "natix-network-org/roadwork",
      { [shardPath("train", 0, 1)]: hfImageParquet(rows) },
      {
        type: "dataset",
        private: true,
      },
    );
  });
  after(async () => {
    await hub.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("imports from HF_ENDPOINT with HF_TOKEN, prints counts, and lists and shows versions", async () => {
    const out = join(dir, "natix");
    const env = { HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN };
    const r = await roadwork(["dataset", "import", "hf://datasets/natix-network-org/roadwork", "--out", out], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /6 records read, 6 added, 0 already in the dataset, 0 errors, 1 warnings/);
    assert.match(r.stdout, /source natix\s+6 images: 2 roadwork, 3 no roadwork, 1 unlabelled/);
    assert.match(r.stderr, /shard 1\/1 data\/train-00000-of-00001\.parquet/);
    assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN));
    const again = await roadwork(["dataset", "import", "hf://datasets/natix-network-org/roadwork", "--out", out], env);
    assert.match(again.stdout, /0 added, 6 already in the dataset/);
    assert.match(again.stdout, /no change; latest version/);

    const ls = await roadwork(["dataset", "ls", out]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stdout.trim().split("\n").length, 1);
    assert.match(ls.stdout, /^\* [0-9a-f]{12} .* 6 images \(5 labelled\)/);
    const show = await roadwork(["dataset", "show", out, "--json"]);
    assert.equal(JSON.parse(show.stdout).counts.bySource.natix.total, 6);

    const noToken = await roadwork(["dataset", "import", "hf://datasets/natix-network-org/roadwork", "--out", out], {
      HF_ENDPOINT: hub.url,
    });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /set HF_TOKEN/);
  });

  it("answers --help for the group and every subcommand; usage errors exit 2", async () => {
    for (const sub of [[], ["import"], ["ls"], ["show"], ["migrate"]]) {
      const r = await roadwork(["dataset", ...sub, "--help"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`usage: roadwork dataset ${sub[0] ?? ""}`));
      assert.match(r.stdout, /-h, --help/);
    }
    const bad = await roadwork(["dataset", "import", "somewhere"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--out/);
  });
});
