// `roadwork publish`: push a model bundle folder to a public Hugging Face repo with the NATIX model_card.json.
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { parseArgs } from "node:util";
import { hotkeySourceFromEnv, loadHotkey } from "@roadwork/chain/keys";
import {
  type BundleFile,
  buildModelCard,
  metricsFromBundle,
  publishModel,
  renderModelReadme,
  SemVer,
} from "@roadwork/lifecycle";
import type { Command } from "../command.ts";

const USAGE = `usage: roadwork publish --bundle <dir> --repo <org/name> [--version X.Y.Z] [--name <model name>]
                        [--description <text>] [--submission-time <unix s>]
Uploads every file of <dir> plus model_card.json and README.md in one commit to a public model repo, then reads it
back. The Hugging Face token comes from HF_TOKEN (it needs write access); HF_ENDPOINT overrides the Hub URL. The
hotkey that signs the card comes from ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC or ROADWORK_WALLET_NAME +
ROADWORK_WALLET_HOTKEY. Without --version the bundle's manifest.json "version" is used.
After publishing, register the repo: roadwork register --uid <uid> --repo <org/name>`;

export const command: Command = {
  summary: "publish a model bundle to Hugging Face with the NATIX model card",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        bundle: { type: "string" },
        repo: { type: "string" },
        version: { type: "string" },
        name: { type: "string" },
        description: { type: "string" },
        "submission-time": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (!values.bundle || !values.repo) throw new Error(`--bundle and --repo are required\n${USAGE}`);
    const token = process.env.HF_TOKEN?.trim();
    if (!token)
      throw new Error("set HF_TOKEN to a Hugging Face token with write access (huggingface.co/settings/tokens)");

    const files = await readBundleDir(values.bundle);
    const version = values.version ?? manifestVersion(files);
    if (!version || !SemVer.safeParse(version).success) {
      throw new Error(`give --version X.Y.Z (the bundle has no manifest.json with a semver "version")`);
    }
    const submissionTime = values["submission-time"]
      ? Number(values["submission-time"])
      : Math.floor(Date.now() / 1000);
    const hotkey = await loadHotkey(hotkeySourceFromEnv(process.env));
    const card = buildModelCard({
      modelName: values.name ?? values.repo.split("/")[1] ?? values.repo,
      description: values.description ?? `Roadwork classifier ${version} for the NATIX StreetVision subnet`,
      version,
      hotkey: hotkey.address,
      submissionTime,
    });
    const readme = renderModelReadme({
      card,
      metrics: metricsFromBundle(files),
      files: files.map((f) => ({ path: f.path, size: f.content.byteLength })),
    });
    console.error(`publishing ${files.length} files (${totalBytes(files)} bytes) to ${values.repo} as ${version}…`);
    const out = await publishModel({
      hub: { accessToken: token, hubUrl: process.env.HF_ENDPOINT },
      repo: values.repo,
      bundleFiles: files,
      modelCard: card,
      readme,
      log: (event, data) => {
        if (event === "hf.retry") console.error(`  retrying ${String(data.url)} (${String(data.reason)})`);
        if (event === "hf.committed") console.error(`  committed ${String(data.commit)}`);
      },
    });
    console.log(
      JSON.stringify(
        {
          repo: out.repo,
          commit: out.commitSha,
          url: out.url,
          unchanged: out.unchanged,
          version,
          submittedBy: card.submitted_by,
          submissionTime: card.submission_time,
          files: out.files,
        },
        null,
        2,
      ),
    );
    console.error(
      out.unchanged ? "the repo already held exactly this model; nothing committed" : "published and verified",
    );
    return 0;
  },
};

async function readBundleDir(dir: string): Promise<BundleFile[]> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(dir);
  } catch {
    throw new Error(`--bundle ${dir} does not exist`);
  }
  if (!info.isDirectory()) throw new Error(`--bundle ${dir} is not a folder`);
  const out: BundleFile[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.name.startsWith(".")) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile())
        out.push({ path: relative(dir, p).split(sep).join("/"), content: new Uint8Array(await readFile(p)) });
    }
  };
  await walk(dir);
  if (out.length === 0) throw new Error(`--bundle ${dir} is empty`);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

function manifestVersion(files: BundleFile[]): string | undefined {
  const m = files.find((f) => f.path === "manifest.json");
  if (!m) return undefined;
  try {
    const v = (JSON.parse(new TextDecoder().decode(m.content)) as { version?: unknown }).version;
    return typeof v === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

const totalBytes = (files: BundleFile[]) => files.reduce((n, f) => n + f.content.byteLength, 0);
