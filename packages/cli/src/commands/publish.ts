// `roadwork publish`: push a model bundle folder to a public Hugging Face repo with the NATIX model_card.json.
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { BundleFile } from "@roadwork/lifecycle";
import { defineCommand, UsageError } from "../command.ts";

export const command = defineCommand({
  name: "publish",
  summary: "publish a model bundle to Hugging Face with the NATIX model card",
  usage: "--bundle <dir> --repo <org/name> [options]",
  description: `Uploads every file of <dir> plus model_card.json and README.md in one commit to a public model repo, then reads it
back. The Hugging Face token comes from HF_TOKEN (it needs write access); HF_ENDPOINT overrides the Hub URL. The
hotkey that signs the card comes from ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC or ROADWORK_WALLET_NAME +
ROADWORK_WALLET_HOTKEY. Without --version the bundle's manifest.json "version" is used (build metadata after "+" is
dropped: the card takes X.Y.Z). A repo whose card already names this version with other files is refused: one
version names one model. The demo model (trained on procedural scenes) earns nothing and is refused unless
--allow-demo. Registering with NATIX afterwards is optional: roadwork register --uid <uid> --repo <org/name>`,
  options: {
    bundle: { type: "string", value: "<dir>", help: "the model bundle folder (manifest.json, *.onnx, report)" },
    repo: { type: "string", value: "<org/name>", help: "the public Hugging Face model repo" },
    version: { type: "string", value: "<X.Y.Z>", help: "the model card version (default: the manifest's)" },
    name: { type: "string", value: "<name>", help: "model name on the card (default: the repo name)" },
    description: { type: "string", value: "<text>", help: "model description on the card" },
    "submission-time": { type: "string", value: "<unix s>", help: "the card's submission_time (default: now)" },
    "allow-demo": { type: "boolean", help: "publish even a demo bundle trained on procedural scenes" },
  },
  async run({ values }) {
    if (!values.bundle || !values.repo) throw new UsageError("--bundle and --repo are required");
    const token = process.env.HF_TOKEN?.trim();
    if (!token)
      throw new Error("set HF_TOKEN to a Hugging Face token with write access (huggingface.co/settings/tokens)");
    const { buildModelCard, metricsFromBundle, publishModel, renderModelReadme, SemVer } = await import(
      "@roadwork/lifecycle"
    );
    const { hotkeySourceFromEnv, loadHotkey } = await import("@roadwork/chain/keys");

    const files = await readBundleDir(values.bundle);
    const demo = demoReason(files);
    if (demo && !values["allow-demo"]) {
      throw new Error(
        `${values.bundle} is the demo model (${demo}): it scores nothing on real validator images. ` +
          "Train on real data (docs/training.md) or pass --allow-demo to publish it anyway.",
      );
    }
    const version = values.version ?? cardVersion(manifestVersion(files));
    if (version === undefined) {
      throw new UsageError(
        `${values.bundle} has no manifest.json with a "version"; give --version X.Y.Z (e.g. --version 1.0.0)`,
      );
    }
    if (!SemVer.safeParse(version).success) {
      const from = values.version !== undefined ? "--version" : `the manifest's version '${manifestVersion(files)}'`;
      throw new UsageError(`${from} is not X.Y.Z (three numbers, e.g. 1.4.0); give --version X.Y.Z`);
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
});

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

/** Build metadata ("1.0.0+ab12cd") is the trainer's; the card and NATIX take the X.Y.Z before it. */
function cardVersion(manifest: string | undefined): string | undefined {
  return manifest?.split("+")[0];
}

/** Why this bundle is the offline demo model, if it is: its procedural training set or demo backbone say so. */
export function demoReason(files: BundleFile[]): string | undefined {
  const json = (path: string): Record<string, unknown> | undefined => {
    const f = files.find((x) => x.path === path);
    if (!f) return undefined;
    try {
      return JSON.parse(new TextDecoder().decode(f.content)) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };
  const manifest = json("manifest.json");
  const dataset = (manifest?.training as { dataset?: { name?: unknown; source?: unknown } } | undefined)?.dataset;
  if (dataset?.source === "procedural" || String(dataset?.name ?? "").includes("procedural")) {
    return `trained on the procedural dataset '${String(dataset?.name ?? dataset?.source)}'`;
  }
  const backbone = (json("report.json")?.model as { backbone?: unknown } | undefined)?.backbone;
  if (typeof backbone === "string" && /^Fixed demo feature extractor/.test(backbone))
    return "built on the fixed demo backbone";
  return undefined;
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
