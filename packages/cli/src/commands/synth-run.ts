// The composition root of `roadwork synth`: builds the generator, the ledger, the embedder and the stores from the
// command line and the AWS SDK environment, runs the batch, commits the dataset version and writes the report.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import {
  BedrockTeacher,
  type DatasetVersion,
  isRealSource,
  localDatasetStore,
  Synth,
  type Teacher,
} from "@roadwork/data";
import { EXIT_BUDGET } from "./synth.ts";

export interface SynthRunOptions {
  generator: string;
  count: number;
  out: string;
  label?: 0 | 1;
  from?: string;
  strength: number;
  textOnly: boolean;
  hardCases?: string;
  caps: Synth.BudgetCaps;
  ledger?: string;
  backbone: string;
  teacher: string;
  batchId: string;
  concurrency: number;
  dryRun: boolean;
}

/** How many reference images are embedded for the duplicate check and the distance figure. */
const REFERENCE_SAMPLE = 64;

export async function runSynth(o: SynthRunOptions): Promise<number> {
  const generator = await buildGenerator(o.generator);
  const price = Synth.priceOf(generator.id);
  const out = localDatasetStore(resolve(o.out));
  const from = o.from ? localDatasetStore(resolve(o.from)) : undefined;
  const fromVersion = from ? await from.latestVersion() : null;
  if (from && !fromVersion) throw new Error(`${o.from} holds no dataset version; import or generate one first`);
  const outVersion = await out.latestVersion();

  const labelled = (v: DatasetVersion | null) => (v?.records ?? []).filter((r) => r.label !== null);
  const fromRecords = labelled(fromVersion);
  const real = fromRecords.filter((r) => isRealSource(r.source));
  const sourcePool = real.length > 0 ? real : fromRecords;
  const useI2i = from !== undefined && !o.textOnly && generator.capabilities.imageToImage && sourcePool.length > 0;
  const captions = sourcePool
    .filter((r) => r.details.sceneDescription)
    .map((r) => ({ text: r.details.sceneDescription!, source: "metadata" as const, recordId: r.sha256 }));
  const hardCases = o.hardCases ? await readHardCases(o.hardCases) : [];
  const requests = Synth.planRequests({
    batchId: o.batchId,
    count: o.count,
    ...(o.label !== undefined ? { label: o.label } : {}),
    captions,
    ...(useI2i
      ? {
          sources: sourcePool.map((r) => ({
            id: r.sha256,
            group: r.group,
            label: r.label as 0 | 1,
            ...(r.details.sceneDescription
              ? { caption: { text: r.details.sceneDescription, source: "metadata" as const, recordId: r.sha256 } }
              : {}),
          })),
          strength: o.strength,
        }
      : {}),
    hardCases,
  });

  const ledgerFile = resolve(o.ledger ?? join(o.out, "synth-ledger.json"));
  await mkdir(dirname(ledgerFile), { recursive: true });
  const ledger = new Synth.BudgetLedger(new Synth.FileLedgerStore(ledgerFile), "local", o.caps);
  const before = await ledger.summary();
  const estimate = requests.length * price.usdPerImage;
  const labels = requests.reduce((n, r) => n + r.label, 0);
  console.log(
    `plan: ${requests.length} ${useI2i ? `image-to-image (strength ${o.strength}) from ${sourcePool.length} frames of ${o.from}` : "text-to-image"} requests (${labels} roadwork, ${requests.length - labels} none${hardCases.length ? `, ${hardCases.length} hard-case clusters` : ""}) with ${generator.id}`,
  );
  console.log(
    `estimate: ${requests.length} × $${price.usdPerImage.toFixed(4)} = $${estimate.toFixed(2)} (${price.basis}; prices of ${price.retrieved})`,
  );
  console.log(
    `budget: today $${before.spentDayUsd.toFixed(2)} of $${o.caps.dayUsd.toFixed(2)}, ${before.month} $${before.spentMonthUsd.toFixed(2)} of $${o.caps.monthUsd.toFixed(2)} (ledger ${ledgerFile})`,
  );
  if (estimate > o.caps.dayUsd - before.spentDayUsd + 1e-9) {
    console.log(`note: the estimate exceeds what is left today; the batch will stop at the cap`);
  }
  if (o.dryRun) {
    for (const r of requests.slice(0, 3))
      console.log(`  [${r.label}] ${r.prompt}\n      negative: ${r.negativePrompt}`);
    console.log("dry run: nothing generated, nothing spent");
    return 0;
  }

  const embedder = await buildEmbedder(o.backbone);
  const teacher = await buildTeacher(o.teacher);
  const reference = new Synth.ReferenceSet();
  const referenceRecords = [...fromRecords, ...labelled(outVersion)];
  for (const r of referenceRecords) if (r.phash) reference.add(r.sha256, Synth.phashBits(r.phash));
  const sample = [...(real.length > 0 ? real : referenceRecords)].slice(0, REFERENCE_SAMPLE);
  let realEmbeddings: Float32Array[] = [];
  if (embedder && sample.length > 0) {
    const store = fromRecords.includes(sample[0]!) ? from! : out;
    realEmbeddings = await embedder.embed(await Promise.all(sample.map((r) => store.getImage(r.sha256))));
    for (const [i, r] of sample.entries()) reference.add(r.sha256, undefined, realEmbeddings[i]);
  }

  const batchDir = resolve(o.out, "synth", o.batchId);
  const sink: Synth.ImageSink = {
    async put(path, bytes) {
      const file = join(batchDir, path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, bytes);
      return file;
    },
  };
  await mkdir(join(batchDir, "records"), { recursive: true });
  const started = Date.now();
  const result = await Synth.runBatch({
    batchId: o.batchId,
    generator,
    requests,
    price,
    sink,
    gates: {
      thresholds: Synth.DEFAULT_GATES,
      reference,
      ...(embedder ? { embedder } : {}),
      ...(teacher ? { teacher } : {}),
    },
    ledger,
    alerter: { alert: async (subject, message) => console.error(`ALERT ${subject}: ${message}`) },
    journal: {
      save: (id, records) => writeFile(join(batchDir, "records", `${id}.json`), JSON.stringify(records)),
      load: (id) =>
        readFile(join(batchDir, "records", `${id}.json`), "utf8").then(
          (t) => JSON.parse(t) as Synth.SynthImageRecord[],
          () => undefined,
        ),
    },
    loadSource: (sha) => from!.getImage(sha),
    realEmbeddings,
    concurrency: o.concurrency,
    onEvent: (e) => {
      if (e.kind === "progress") {
        process.stderr.write(
          `synth ${String(e.done).padStart(4)}/${e.total}  accepted ${e.accepted}  rejected ${e.rejected}  $${e.costUsd.toFixed(2)}  ${((Date.now() - started) / 1000).toFixed(0)}s\n`,
        );
      } else if (e.kind === "retry") process.stderr.write(`retry ${e.requestId} (attempt ${e.attempt}): ${e.error}\n`);
      else if (e.kind === "failure")
        process.stderr.write(`failed ${e.requestId}: ${e.error.kind}: ${e.error.message}\n`);
      else process.stderr.write(`STOPPED (${e.reason}): ${e.message}\n`);
    },
  });

  let versionId: string | undefined;
  if (result.accepted.length + result.recovered.length > 0) {
    const derived = await Synth.commitBatch(out, result, (r) => readFile(r.location).then((b) => new Uint8Array(b)));
    versionId = derived.version.id;
  }
  const after = await ledger.summary();
  await mkdir(batchDir, { recursive: true });
  await writeFile(
    join(batchDir, "batch.json"),
    `${JSON.stringify({ summary: Synth.batchSummary(result), datasetVersion: versionId ?? null, result }, null, 1)}\n`,
  );
  await writeFile(join(batchDir, "report.html"), Synth.renderBatchReport(result, after));

  const s = Synth.batchSummary(result);
  const reasons =
    Object.entries(s.rejectedByReason)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none";
  const failures =
    Object.entries(s.failures)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none";
  console.log(
    `generated ${s.generated} of ${s.requested}: accepted ${s.accepted}, rejected ${s.rejected} (${reasons}); failures: ${failures}`,
  );
  console.log(
    `cost $${result.costUsd.toFixed(2)} (estimate $${result.estimateUsd.toFixed(2)}); today $${after.spentDayUsd.toFixed(2)} of $${o.caps.dayUsd.toFixed(2)}`,
  );
  const d = result.distance;
  console.log(
    d
      ? `distance to ${d.real} reference images (${d.embedder}): KID ${d.kid.toFixed(5)}, Fréchet ${d.frechet.toFixed(3)} (${d.frechetDims}-d)`
      : "distance: n/a (needs reference images in --from/--out and 2+ accepted)",
  );
  console.log(versionId ? `dataset version ${versionId} in ${o.out}` : `no images accepted: ${o.out} unchanged`);
  console.log(`report ${join(batchDir, "report.html")}`);
  if (result.stopped) {
    console.log(`stopped early (${result.stopped.reason}): ${result.stopped.message}`);
    return result.stopped.reason === "budget" ? EXIT_BUDGET : 1;
  }
  return 0;
}

async function buildGenerator(spec: string): Promise<Synth.ImageGenerator> {
  if (spec === "procedural") return new Synth.ProceduralGenerator();
  if (spec.startsWith("bedrock:")) {
    const modelId = spec.slice("bedrock:".length);
    if (!process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION && !process.env.AWS_PROFILE) {
      throw new Error(
        "set AWS_REGION (and credentials) for Bedrock; AWS_ENDPOINT_URL_BEDROCK_RUNTIME points it elsewhere",
      );
    }
    const { BedrockRuntimeClient } = await import("@aws-sdk/client-bedrock-runtime");
    const { BedrockClient } = await import("@aws-sdk/client-bedrock");
    // Throttling is retried by the batch runner (and counted), not hidden inside the SDK.
    return new Synth.BedrockImageGenerator({
      runtime: new BedrockRuntimeClient({ maxAttempts: 1 }),
      control: new BedrockClient({ maxAttempts: 2 }),
      modelId,
    });
  }
  if (spec.startsWith("cosmos:")) {
    const token = process.env.ROADWORK_COSMOS_TOKEN;
    return new Synth.CosmosGenerator({
      baseUrl: spec.slice("cosmos:".length),
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    });
  }
  throw new Error(`--generator must be bedrock:<model-id>, cosmos:<url> or procedural, not '${spec}'`);
}

async function buildTeacher(spec: string): Promise<Teacher | undefined> {
  if (spec === "none") return undefined;
  if (!spec.startsWith("bedrock:")) throw new Error(`--teacher must be none or bedrock:<model-id>, not '${spec}'`);
  const { BedrockRuntimeClient } = await import("@aws-sdk/client-bedrock-runtime");
  return new BedrockTeacher({
    client: new BedrockRuntimeClient({ maxAttempts: 1 }),
    modelId: spec.slice("bedrock:".length),
  });
}

async function buildEmbedder(backbone: string): Promise<Synth.Embedder | undefined> {
  if (backbone === "none") return undefined;
  const { EmbeddingExtractor, demoBackboneInput, describeBackbone } = await import("@roadwork/training");
  const input = backbone === "demo" ? demoBackboneInput() : await describeBackbone(backbone, {});
  const extractor = await EmbeddingExtractor.load(input);
  const name = backbone === "demo" ? "demo backbone" : backbone;
  return {
    name,
    async embed(images) {
      const m = await extractor.embed(images.length, async (i) => images[i]!);
      return Array.from({ length: m.rows }, (_, i) => m.data.slice(i * m.cols, (i + 1) * m.cols));
    },
  };
}

async function readHardCases(file: string): Promise<Synth.HardCaseCluster[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new Error(`cannot read hard cases ${file}: ${(error as Error).message}`);
  }
  const parsed = Synth.HardCaseClustersSchema.safeParse(json);
  if (!parsed.success)
    throw new Error(`${file}: expected [{id, description, label?, weight?}]: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
