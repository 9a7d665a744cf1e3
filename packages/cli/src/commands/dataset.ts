// `roadwork dataset import|ls|show|migrate`: datasets from any source into one store (a directory or s3://bucket/prefix),
// as immutable versions. Progress goes to stderr, results to stdout.
import { type Command, defineCommand, UsageError } from "../command.ts";

type Data = typeof import("@roadwork/data");

async function openStore(location: string) {
  const data: Data = await import("@roadwork/data");
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
  if (!m) return data.localDatasetStore(location);
  // Composition root: credentials and region from the environment, as the AWS CLI reads them.
  const { S3Client } = await import("@aws-sdk/client-s3");
  return data.s3DatasetStore(new S3Client({}), m[1]!, m[2]!);
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

const importCommand = defineCommand({
  name: "dataset import",
  summary: "import images into a dataset store as a new version",
  usage: "<hf://datasets/org/name[@rev] | folder | captures dir> --out <dir | s3://bucket/prefix> [options]",
  description: `Sources:
  hf://datasets/<org>/<name>[@revision]  a Hugging Face parquet image dataset (e.g. natix-network-org/roadwork);
                                         HF_ENDPOINT picks the hub, HF_TOKEN authenticates (private/gated repos)
  <folder>                               class folders roadwork/ + no-roadwork/ (or 1/ + 0/), or --csv path,label
  <folder | s3://bucket/prefix>          with captures/YYYY/MM/DD/<sha256>.jpg+.json (the axon's captures)
Re-running an import skips what the store already holds; errors in single records are listed, never fatal.
Prints counts per source, split and label of the version written.`,
  positionals: true,
  options: {
    out: { type: "string", value: "<dir | s3://bucket/prefix>", help: "the dataset store to add to (created if new)" },
    kind: { type: "string", value: "<hf|folder|captures>", help: "what the source is (default: guessed from it)" },
    csv: { type: "string", value: "<file.csv>", help: "folder import: a CSV of path,label instead of class folders" },
    "label-source": {
      type: "string",
      value: "<human|ground-truth|teacher>",
      default: "human",
      help: "folder import: who labelled the folders",
    },
    json: { type: "boolean", help: "print the report as JSON" },
  },
  async run({ values, positionals }) {
    const source = positionals[0];
    if (!source || positionals.length > 1 || !values.out) {
      throw new UsageError(
        "give one source and --out <dir | s3://bucket/prefix>; see 'roadwork dataset import --help'",
      );
    }
    const data: Data = await import("@roadwork/data");
    const store = await openStore(values.out);
    const { existsSync } = await import("node:fs");
    const { join } = await import("node:path");
    const kind =
      values.kind ??
      (source.startsWith("hf://")
        ? "hf"
        : source.startsWith("s3://") || existsSync(join(source, "captures"))
          ? "captures"
          : "folder");
    let report: Awaited<ReturnType<Data["importFolder"]>>;
    if (kind === "hf") {
      const hub = new data.HubClient({
        ...data.hubOptionsFromEnv(),
        onRetry: (what, attempt, reason) => progress(`retrying ${what} (attempt ${attempt + 1}): ${reason}`),
      });
      report = await data.importHfDataset({ store, hub, uri: source, progress });
    } else if (kind === "folder") {
      const ls = values["label-source"];
      if (!(data.LABEL_SOURCES as readonly string[]).includes(ls)) {
        throw new UsageError(`--label-source must be one of ${data.LABEL_SOURCES.join(", ")}`);
      }
      report = await data.importFolder({
        store,
        folder: source,
        ...(values.csv ? { csv: values.csv } : {}),
        labelSource: ls as (typeof data.LABEL_SOURCES)[number],
        progress,
      });
    } else if (kind === "captures") {
      const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(source);
      let captures: import("@roadwork/data").BlobStore;
      if (m) {
        const { S3Client } = await import("@aws-sdk/client-s3");
        captures = new data.S3BlobStore(new S3Client({}), m[1]!, m[2]!);
      } else captures = new data.LocalBlobStore(source);
      report = await data.importCaptures({ store, captures, progress });
    } else {
      throw new UsageError("--kind must be hf, folder or captures");
    }
    if (values.json) console.log(JSON.stringify({ ...report, version: report.version?.id ?? null }, null, 1));
    else console.log(data.describeImport(report).join("\n"));
    return 0;
  },
});

const lsCommand = defineCommand({
  name: "dataset ls",
  summary: "list a dataset store's versions, newest first",
  usage: "<dir | s3://bucket/prefix>",
  positionals: true,
  options: { json: { type: "boolean", help: "print JSON" } },
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new UsageError("give one dataset store; see 'roadwork dataset ls --help'");
    const store = await openStore(positionals[0]!);
    const latest = await store.getLatest();
    const versions = await Promise.all((await store.listVersions()).map((id) => store.getVersion(id)));
    versions.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    if (values.json) {
      console.log(
        JSON.stringify(
          versions.map((v) => ({
            id: v.id,
            parent: v.parent,
            name: v.name,
            createdAt: v.createdAt,
            note: v.note,
            latest: v.id === latest,
            counts: v.counts,
          })),
          null,
          1,
        ),
      );
      return 0;
    }
    if (versions.length === 0) {
      console.log(`no versions in ${store.location}; 'roadwork dataset import' makes one`);
      return 0;
    }
    for (const v of versions) {
      const labelled = v.records.filter((r) => r.label !== null).length;
      console.log(
        `${v.id === latest ? "*" : " "} ${v.id.slice(0, 12)}  ${v.createdAt}  ${String(v.records.length).padStart(6)} images (${labelled} labelled)  parent ${v.parent?.slice(0, 12) ?? "-".padEnd(12)}  ${v.note}`,
      );
    }
    return 0;
  },
});

const showCommand = defineCommand({
  name: "dataset show",
  summary: "show one version's counts per source, split and label source",
  usage: "<dir | s3://bucket/prefix> [--version <id prefix>]",
  positionals: true,
  options: {
    version: { type: "string", value: "<id prefix>", help: "which version (default: latest)" },
    json: { type: "boolean", help: "print the counts as JSON" },
  },
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new UsageError("give one dataset store; see 'roadwork dataset show --help'");
    const data: Data = await import("@roadwork/data");
    const store = await openStore(positionals[0]!);
    const id = values.version ? await store.resolveVersion(values.version) : await store.getLatest();
    if (!id) throw new Error(`no versions in ${store.location}; 'roadwork dataset import' makes one`);
    const v = await store.getVersion(id);
    if (values.json) {
      console.log(
        JSON.stringify({ id: v.id, parent: v.parent, name: v.name, note: v.note, counts: v.counts }, null, 1),
      );
      return 0;
    }
    console.log(
      [
        ...data.describeCounts(v),
        `  parent ${v.parent ?? "(none)"}`,
        `  note   ${v.note}`,
        `  groups ${new Set(v.records.map((r) => r.group)).size}; val/test from ${v.splitPolicy.evalSources.join(", ")}`,
      ].join("\n"),
    );
    return 0;
  },
});

const migrateCommand = defineCommand({
  name: "dataset migrate",
  summary: "convert a version-1 procedural manifest.json into a dataset store version",
  usage: "<manifest.json> --out <dir | s3://bucket/prefix>",
  positionals: true,
  options: { out: { type: "string", value: "<dir | s3://bucket/prefix>", help: "the dataset store to write" } },
  async run({ values, positionals }) {
    if (positionals.length !== 1 || !values.out) {
      throw new UsageError("give the manifest and --out; see 'roadwork dataset migrate --help'");
    }
    const data: Data = await import("@roadwork/data");
    const report = await data.migrateProceduralManifest(positionals[0]!, await openStore(values.out), progress);
    console.log(data.describeImport(report).join("\n"));
    return 0;
  },
});

const subcommands: Record<string, Command> = {
  import: importCommand,
  ls: lsCommand,
  show: showCommand,
  migrate: migrateCommand,
};

function help(): string {
  const width = Math.max(...Object.keys(subcommands).map((n) => n.length)) + 2;
  return [
    "usage: roadwork dataset <import|ls|show|migrate> [options]",
    "",
    "Datasets from every source (NATIX parquet on Hugging Face, folders, captured challenges, synthetic, procedural)",
    "as immutable, content-addressed versions in a directory or s3://bucket/prefix (docs/data.md).",
    "",
    "subcommands:",
    ...Object.entries(subcommands).map(([n, c]) => `  ${n.padEnd(width)} ${c.summary}`),
    "",
    "options:",
    "  -h, --help  show this help ('roadwork dataset <subcommand> --help' for its options)",
  ].join("\n");
}

export const command: Command = {
  name: "dataset",
  summary: "import, list and inspect datasets (Hugging Face parquet, folders, captures)",
  help,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (!sub || sub === "--help" || sub === "-h" || sub === "help") {
      console.log(help());
      return sub ? 0 : 2;
    }
    const c = subcommands[sub];
    if (!c) throw new UsageError(`unknown subcommand '${sub}'; run 'roadwork dataset --help'`);
    return c.run(rest);
  },
};
