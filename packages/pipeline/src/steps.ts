// The flywheel's steps as plain async functions: version a dataset, train, evaluate challenger and champion, gate,
// promote. Each takes the state's JSON input and an injected context and returns the JSON the state machine keeps;
// big things (images, bundles, scores) go through the store and only keys and figures travel in the state.
// The state machine (definition.ts) names these steps; AWS runs them as Lambda/ECS tasks, the local runner calls them.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { type DatasetManifest, type LoadedDataset, parseManifest } from "@roadwork/data";
import { type ExecutionProviderChoice, loadScorer, silentLogger } from "@roadwork/inference";
import { nextVersion, PublishRequest } from "@roadwork/lifecycle";
import {
  type BackboneInput,
  decidePromotion,
  EmbeddingCache,
  type GateDecision,
  type GatePolicy,
  parseCheckpoint,
  renderGateMarkdown,
  renderGateSvg,
  sha256Hex,
  type TrainCheckpoint,
  TrainingInterrupted,
  trainFromDataset,
} from "@roadwork/training";
import { z } from "zod";
import { downloadDir, type PipelineStore, uploadDir } from "./blob-store.ts";
import { EvaluationRecord } from "./evaluation-record.ts";
import { type EvaluationSet, freezeEvaluationSet } from "./evaluation-set.ts";
import { DatasetPointerFields, datasetStoreAt } from "./latest-dataset.ts";
import { type PointerStore, promotePointer } from "./model-pointer.ts";
import { modelIdentity, readModelScores, writeModelScores } from "./model-scores.ts";
import { readRunHead, writeRunHead } from "./run-head.ts";

export interface PipelineContext {
  store: PipelineStore;
  pointer: PointerStore;
  /** The backbone challengers are trained on. */
  backbone: () => Promise<BackboneInput>;
  /** Reads s3:// bundles and pointers when the store is S3. */
  s3?: S3Client;
  executionProvider?: ExecutionProviderChoice;
  /** Where promoted models are published (Hugging Face repo + uid); absent = promotion only. */
  publish?: { repo: string; uid: number };
  gatePolicy?: Partial<GatePolicy>;
  log: (event: string, data?: Record<string, unknown>) => void;
  /** SIGTERM of the trainer. */
  signal?: AbortSignal;
  now?: () => Date;
}

export const TrainOptions = z.object({
  viewsPerImage: z.number().int().min(1).max(16).default(2),
  valViewsPerImage: z.number().int().min(1).max(16).default(2),
  head: z.record(z.string(), z.unknown()).default({}),
  seed: z.number().int().min(0).default(1),
  batchSize: z.number().int().min(1).max(1024).default(32),
  /**
   * Start the head from the champion's (same backbone, same shape) for this many epochs instead of training a random
   * draw for the full schedule; 0: always from a random draw. The champion's head must beat a coin flip on the new
   * validation set to be taken.
   */
  warmStartEpochs: z.number().int().min(0).max(1000).default(30),
  /** New embeddings between two cache flushes (what an interruption can lose at most). */
  flushEvery: z.number().int().min(1).default(2048),
  /** Bundle name. */
  name: z
    .string()
    .regex(/^[a-z0-9-]+$/)
    .default("roadwork"),
});
export type TrainOptions = z.infer<typeof TrainOptions>;

/** The execution's input: what `roadwork pipeline run`, the retrain trigger or a schedule starts it with. */
export const PipelineInput = z.object({
  runId: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/),
  reason: z.string().max(200).default("manual"),
  requestedAt: z.string().optional(),
  /** A dataset manifest: a local path, or a store key such as datasets/<id>/manifest.json. */
  dataset: z.object({ manifest: z.string().min(1) }),
  train: TrainOptions.partial().default({}),
  evaluation: z.object({ limit: z.number().int().positive().optional(), seed: z.string().optional() }).default({}),
  gate: z.record(z.string(), z.unknown()).default({}),
});
export type PipelineInput = z.infer<typeof PipelineInput>;

export const DatasetVersion = z.object({
  id: z.string(),
  key: z.string(),
  name: z.string(),
  counts: z.record(z.string(), z.object({ total: z.number(), positive: z.number() })),
  /** Images copied into the store by this step (0 when the version existed). */
  added: z.number(),
});
export type DatasetVersion = z.infer<typeof DatasetVersion>;

export const TrainJob = z.object({
  runId: z.string(),
  datasetKey: z.string(),
  options: TrainOptions,
});
export type TrainJob = z.infer<typeof TrainJob>;

export const EvaluateJob = z.object({
  runId: z.string(),
  datasetKey: z.string(),
  evaluation: z.object({ limit: z.number().int().positive().optional(), seed: z.string().optional() }).default({}),
});
export type EvaluateJob = z.infer<typeof EvaluateJob>;

const runKey = (runId: string, name: string) => `runs/${runId}/${name}`;
export const bundlePrefix = (runId: string) => runKey(runId, "bundle/");

/** Step 1: the dataset version, content-addressed in the store (copied once; later runs reuse it). */
export async function versionDataset(
  raw: unknown,
  ctx: PipelineContext,
): Promise<{ dataset: DatasetVersion; trainJob: TrainJob; evaluateJob: EvaluateJob }> {
  const input = PipelineInput.parse(raw);
  const source = input.dataset.manifest;
  let manifest: DatasetManifest;
  let readImage: (path: string) => Promise<Uint8Array>;
  const fromStore = await ctx.store.getJson<unknown>(source).catch(() => undefined);
  if (fromStore !== undefined && !source.startsWith("/")) {
    manifest = parseManifest(fromStore, source);
    const base = source.slice(0, source.lastIndexOf("/") + 1);
    // datasets/latest/manifest.json names the dataset store its images are in (latest-dataset.ts).
    const { imageRoot } = DatasetPointerFields.parse(fromStore);
    const images = imageRoot ? datasetStoreAt(imageRoot, ctx.s3).blobs : undefined;
    readImage = async (p) => {
      const b = images ? await images.get(p) : await ctx.store.get(`${base}${p}`);
      if (!b) throw new Error(`dataset image ${images ? `${imageRoot}/` : base}${p} is missing`);
      return b;
    };
  } else {
    const text = await readFile(source, "utf8").catch(() => {
      throw new Error(`dataset manifest ${source} not found (give a manifest path or a store key)`);
    });
    manifest = parseManifest(JSON.parse(text), source);
    readImage = (p) => readFile(join(dirname(source), p));
  }
  const key = `datasets/${manifest.id}/manifest.json`;
  let added = 0;
  if (!(await ctx.store.getJson<unknown>(key))) {
    // Many copies in flight: each is a read, a hash and a write (an S3 round trip each way on AWS).
    let next = 0;
    let failed = false;
    const copy = async () => {
      try {
        while (!failed && next < manifest.records.length) {
          const r = manifest.records[next++]!;
          const bytes = await readImage(r.path);
          if (sha256Hex(bytes) !== r.sha256) throw new Error(`dataset image ${r.path} does not match its sha256`);
          await ctx.store.put(`datasets/${manifest.id}/${r.path}`, bytes);
          added++;
        }
      } catch (error) {
        failed = true; // the other copies stop at their next image
        throw error;
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, manifest.records.length) }, copy));
    await ctx.store.putJson(key, manifest); // last: a manifest in the store means a complete version
  }
  ctx.log("dataset versioned", { id: manifest.id.slice(0, 12), images: manifest.records.length, added });
  return {
    dataset: { id: manifest.id, key, name: manifest.name, counts: manifest.counts, added },
    trainJob: { runId: input.runId, datasetKey: key, options: TrainOptions.parse(input.train) },
    evaluateJob: { runId: input.runId, datasetKey: key, evaluation: input.evaluation },
  };
}

/** A dataset version as files on this machine: in place for a local store, downloaded for S3. */
async function openDataset(
  ctx: PipelineContext,
  key: string,
): Promise<{ dataset: LoadedDataset; done(): Promise<void> }> {
  const manifest = parseManifest(await ctx.store.getJson<unknown>(key), key);
  const local = ctx.store.localPath(key);
  if (local) return { dataset: { manifest, root: dirname(local) }, done: async () => {} };
  const dir = await mkdtemp(join(tmpdir(), "roadwork-dataset-"));
  await downloadDir(ctx.store, key.slice(0, key.lastIndexOf("/") + 1), dir);
  return { dataset: { manifest, root: dir }, done: () => rm(dir, { recursive: true, force: true }) };
}

/** "name@1.2.0+x" or "1.2.0" → "1.2.0"; anything else → undefined. */
const plainVersion = (v: string | undefined) => /(\d+\.\d+\.\d+)/.exec(v?.split("@").pop() ?? "")?.[1];

export const TrainResult = z.object({
  runId: z.string(),
  version: z.string(),
  bundleKey: z.string(),
  datasetId: z.string(),
  val: z.object({ mcc: z.number(), accuracy: z.number() }),
  test: z.object({ mcc: z.number(), accuracy: z.number() }),
  threshold: z.number(),
  durationsMs: z.record(z.string(), z.number()),
  cache: z.object({ loaded: z.number(), hits: z.number(), misses: z.number() }),
  /** The head's schedule: epochs run, the kept one, and whether it started from the champion's head. */
  head: z
    .object({
      epochs: z.number(),
      bestEpoch: z.number(),
      warmStart: z.boolean(),
      /** Why the champion's head was not taken (absent when there was none to take). */
      coldBecause: z.string().optional(),
    })
    .optional(),
  resumed: z.object({ interruptions: z.number(), cachedVectors: z.number() }).optional(),
});
export type TrainResult = z.infer<typeof TrainResult>;

/**
 * Step 2: the challenger. Embeds only what the cache lacks, trains the head, calibrates the threshold to 0.5, writes
 * the bundle and its report. On an interruption (SIGTERM) it flushes the cache, writes the checkpoint and rethrows;
 * the next attempt of the same run resumes from there.
 */
export async function train(raw: unknown, ctx: PipelineContext): Promise<TrainResult> {
  const job = TrainJob.parse(raw);
  const done = await ctx.store.getJson<unknown>(runKey(job.runId, "train.json"));
  if (done) return TrainResult.parse(done); // a retry after the task finished but before the state saw it
  const checkpointKey = runKey(job.runId, "checkpoint.json");
  const previous = await ctx.store.getJson<unknown>(checkpointKey);
  const checkpoint = previous ? parseCheckpoint(previous, checkpointKey) : undefined;
  const backbone = await ctx.backbone();
  const backboneBytes = typeof backbone.model === "string" ? await readFile(backbone.model) : backbone.model;
  const backboneSha256 = sha256Hex(backboneBytes);
  const cache = await EmbeddingCache.open(ctx.store, backboneSha256, { onWarning: (m) => ctx.log(m) });
  if (checkpoint) {
    ctx.log("resuming from checkpoint", {
      interruptions: checkpoint.interruptions,
      stage: checkpoint.stage,
      cachedVectors: cache.size,
    });
  }
  const champion = await ctx.pointer.read();
  const version = nextVersion(plainVersion(champion?.pointer.version));
  const championRun = champion?.pointer.runId;
  const championHead =
    job.options.warmStartEpochs > 0 && championRun
      ? await readRunHead(ctx.store, championRun, backboneSha256)
      : undefined;
  const { dataset, done: release } = await openDataset(ctx, job.datasetKey);
  const local = ctx.store.localPath(bundlePrefix(job.runId));
  const out = local ?? (await mkdtemp(join(tmpdir(), "roadwork-bundle-")));
  let lastLog = 0;
  try {
    const result = await trainFromDataset({
      dataset,
      backbone: { ...backbone, model: backboneBytes },
      out,
      name: job.options.name,
      version,
      viewsPerImage: job.options.viewsPerImage,
      valViewsPerImage: job.options.valViewsPerImage,
      seed: job.options.seed,
      head: job.options.head,
      ...(championHead
        ? { warmStart: { weights: championHead, epochs: job.options.warmStartEpochs, patience: 8 } }
        : {}),
      batchSize: job.options.batchSize,
      flushEvery: job.options.flushEvery,
      cache,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ...(ctx.executionProvider ? { executionProvider: ctx.executionProvider } : {}),
      onProgress: (stage, n, total, detail) => {
        if (n === total || Date.now() - lastLog > 5000) {
          lastLog = Date.now();
          ctx.log("train progress", { stage, done: n, total, ...(detail ? { detail } : {}) });
        }
      },
    });
    if (!local) await uploadDir(ctx.store, out, bundlePrefix(job.runId));
    await writeRunHead(ctx.store, job.runId, backboneSha256, result.head);
    if (result.warmStart) ctx.log("head warm start", { from: championRun, ...result.warmStart });
    const r = result.report;
    const summary: TrainResult = {
      runId: job.runId,
      version,
      bundleKey: bundlePrefix(job.runId),
      datasetId: dataset.manifest.id,
      val: { mcc: r.val.mcc, accuracy: r.val.accuracy },
      test: { mcc: r.test.mcc, accuracy: r.test.accuracy },
      threshold: r.threshold.value,
      durationsMs: r.durationsMs,
      cache: { loaded: cache.stats.loaded, hits: cache.stats.hits, misses: cache.stats.misses },
      head: {
        epochs: r.history.length,
        bestEpoch: r.bestEpoch,
        warmStart: result.warmStart?.used ?? false,
        ...(result.warmStart?.reason ? { coldBecause: result.warmStart.reason } : {}),
      },
      ...(checkpoint
        ? { resumed: { interruptions: checkpoint.interruptions, cachedVectors: cache.stats.loaded } }
        : {}),
    };
    await ctx.store.putJson(runKey(job.runId, "train.json"), summary);
    return summary;
  } catch (error) {
    if (error instanceof TrainingInterrupted) {
      const cp: TrainCheckpoint = {
        schemaVersion: 1,
        runId: job.runId,
        datasetId: dataset.manifest.id,
        backboneSha256,
        interruptions: (checkpoint?.interruptions ?? 0) + 1,
        stage: error.stage,
        done: error.done,
        total: error.total,
        cachedVectors: cache.size,
        updatedAt: (ctx.now?.() ?? new Date()).toISOString(),
      };
      await ctx.store.putJson(checkpointKey, cp);
      ctx.log("checkpoint written", {
        stage: cp.stage,
        done: cp.done,
        total: cp.total,
        cachedVectors: cp.cachedVectors,
      });
    }
    throw error;
  } finally {
    await release();
    if (!local) await rm(out, { recursive: true, force: true });
  }
}

/** One model's scores on the frozen set: how many were computed here and how many its earlier evaluations gave. */
interface ScoredModel {
  version: string;
  scores: number[];
  computed: number;
  cached: number;
}

/**
 * Scores the frozen set with each model (challenger, champion). A model's scores on items it has already scored
 * (model-scores.ts) are taken as they are; every other item's bytes are read once and given to the models that lack
 * it, which run side by side in windows large enough for the engine to fill whole GPU batches.
 */
async function scoreSet(
  ctx: PipelineContext,
  sources: string[],
  set: EvaluationSet,
  rendered?: Map<string, Uint8Array>,
): Promise<ScoredModel[]> {
  const scorers = await Promise.all(
    sources.map((model) =>
      loadScorer({
        model,
        executionProvider: ctx.executionProvider ?? "cpu",
        logger: silentLogger,
        // Offline scoring: runs of up to 64 images (the serving default, 8, suits a lone request's latency).
        maxBatch: 64,
        ...(ctx.s3 ? { s3: ctx.s3 } : {}),
      }),
    ),
  );
  try {
    const ids = scorers.map((scorer) => modelIdentity(scorer.manifest));
    const known = await Promise.all(ids.map((id) => readModelScores(ctx.store, id)));
    const computed = scorers.map(() => 0);
    const todo = set.items.flatMap((item, i) => (known.some((k) => !k.has(item.key)) ? [i] : []));
    const window = 256;
    for (let start = 0; start < todo.length; start += window) {
      await Promise.all(
        todo.slice(start, start + window).map(async (i) => {
          const item = set.items[i]!;
          const bytes = rendered?.get(item.key) ?? (await ctx.store.get(item.key));
          if (!bytes) throw new Error(`evaluation item ${item.key} is missing from the store`);
          await Promise.all(
            scorers.map(async (scorer, s) => {
              if (known[s]!.has(item.key)) return;
              known[s]!.set(item.key, (await scorer.score(bytes)).score);
              computed[s]!++;
            }),
          );
        }),
      );
    }
    await Promise.all(
      scorers.map((scorer, s) =>
        computed[s]! > 0 ? writeModelScores(ctx.store, ids[s]!, scorer.modelVersion, known[s]!) : undefined,
      ),
    );
    return scorers.map((scorer, s) => ({
      version: scorer.modelVersion,
      scores: set.items.map((item) => known[s]!.get(item.key)!),
      computed: computed[s]!,
      cached: set.items.length - computed[s]!,
    }));
  } finally {
    await Promise.all(scorers.map((scorer) => scorer.close()));
  }
}

export interface EvaluateSummary {
  setId: string;
  items: number;
  reused: boolean;
  challenger: string;
  champion: string | null;
  /** Items rendered for this set, and items an earlier set had rendered already. */
  renders: { rendered: number; reused: number };
  /** Per model: items scored here, and items whose score an earlier evaluation of the same bundle gave. */
  scored: { challenger: { computed: number; cached: number }; champion: { computed: number; cached: number } | null };
}

/** Step 3: challenger and champion on the same frozen evaluation set (real test images × every validator format). */
export async function evaluate(raw: unknown, ctx: PipelineContext): Promise<EvaluateSummary> {
  const input = EvaluateJob.parse(raw);
  const trained = TrainResult.parse(await ctx.store.getJson<unknown>(runKey(input.runId, "train.json")));
  const { dataset, done } = await openDataset(ctx, input.datasetKey);
  let frozen: Awaited<ReturnType<typeof freezeEvaluationSet>>;
  try {
    frozen = await freezeEvaluationSet(ctx.store, dataset, {
      ...(input.evaluation.seed ? { seed: input.evaluation.seed } : {}),
      ...(input.evaluation.limit ? { limit: input.evaluation.limit } : {}),
    });
  } finally {
    await done();
  }
  const { set } = frozen;
  const challengerSource = ctx.store.uri(trained.bundleKey);
  const current = await ctx.pointer.read();
  const championSource = current ? ctx.pointer.resolve(current.pointer.bundle) : undefined;
  const [scoredChallenger, scoredChampion] = await scoreSet(
    ctx,
    championSource ? [challengerSource, championSource] : [challengerSource],
    set,
    frozen.bytes,
  );
  const challenger = { version: scoredChallenger!.version, scores: scoredChallenger!.scores, source: challengerSource };
  const champion =
    championSource && scoredChampion
      ? { version: scoredChampion.version, scores: scoredChampion.scores, source: championSource }
      : undefined;
  const record: EvaluationRecord = {
    setId: set.id,
    items: set.items.map((i) => ({ label: i.label, format: i.format })),
    challenger,
    ...(champion ? { champion } : {}),
  };
  await ctx.store.putJson(runKey(input.runId, "evaluation.json"), record);
  ctx.log("evaluated", {
    set: set.id.slice(0, 12),
    items: set.items.length,
    challenger: challenger.version,
    champion: champion?.version ?? "none",
    rendered: frozen.renders.rendered,
    scored: scoredChallenger!.computed + (scoredChampion?.computed ?? 0),
  });
  const counts = (m: ScoredModel) => ({ computed: m.computed, cached: m.cached });
  return {
    setId: set.id,
    items: set.items.length,
    reused: frozen.reused,
    challenger: challenger.version,
    champion: champion?.version ?? null,
    renders: frozen.renders,
    scored: { challenger: counts(scoredChallenger!), champion: scoredChampion ? counts(scoredChampion) : null },
  };
}

export interface GateSummary {
  decision: GateDecision["decision"];
  reasons: string[];
  challenger: { version: string; reward: number };
  champion: { version: string; reward: number } | null;
  gain: { observed: number; lower: number; upper: number } | null;
  report: string;
}

/** Step 4: the decision, recorded as JSON, SVG and Markdown beside the run. */
export async function gate(raw: unknown, ctx: PipelineContext): Promise<GateSummary> {
  const input = z.object({ runId: z.string(), gate: z.record(z.string(), z.unknown()).default({}) }).parse(raw);
  const ev = EvaluationRecord.parse(await ctx.store.getJson<unknown>(runKey(input.runId, "evaluation.json")));
  const decision = decidePromotion({
    items: ev.items,
    challenger: ev.challenger,
    ...(ev.champion ? { champion: ev.champion } : {}),
    policy: { seed: input.runId, ...ctx.gatePolicy, ...input.gate },
  });
  await ctx.store.putJson(runKey(input.runId, "gate.json"), { ...decision, decidedAt: new Date().toISOString() });
  await ctx.store.put(runKey(input.runId, "gate.svg"), Buffer.from(renderGateSvg(decision)));
  await ctx.store.put(runKey(input.runId, "gate.md"), Buffer.from(renderGateMarkdown(decision, "gate.svg")));
  return {
    decision: decision.decision,
    reasons: decision.reasons,
    challenger: { version: decision.challenger.version, reward: decision.challenger.overall.reward },
    champion: decision.champion
      ? { version: decision.champion.version, reward: decision.champion.overall.reward }
      : null,
    gain: decision.gain
      ? { observed: decision.gain.observed, lower: decision.gain.lower, upper: decision.gain.upper }
      : null,
    report: ctx.store.uri(runKey(input.runId, "gate.md")),
  };
}

/**
 * Step 5: the pointer switch. The bundle is loaded and verified first (checksums, probe), so the pointer can never
 * name a broken bundle; the switch itself is one atomic write. Returns the publish request when publishing is on.
 */
export async function promote(
  raw: unknown,
  ctx: PipelineContext,
): Promise<{ version: string; pointer: string; previous: string | null; publish: PublishRequest | null }> {
  const input = z.object({ runId: z.string() }).parse(raw);
  const trained = TrainResult.parse(await ctx.store.getJson<unknown>(runKey(input.runId, "train.json")));
  const bundleUri = ctx.store.uri(trained.bundleKey);
  // Loaded, checksummed and probed exactly as the axon will load it: a bundle that fails here is never promoted.
  const probe = await loadScorer({
    model: bundleUri,
    executionProvider: "cpu",
    logger: silentLogger,
    ...(ctx.s3 ? { s3: ctx.s3 } : {}),
  });
  const version = probe.modelVersion;
  await probe.close();
  const current = await ctx.pointer.read();
  if (current?.pointer.runId === input.runId && current.pointer.version === version) {
    // A retry after the pointer was written: already done.
    return {
      version,
      pointer: ctx.pointer.location,
      previous: current.pointer.previous?.version ?? null,
      publish: publishRequest(ctx, trained),
    };
  }
  const { previous } = await promotePointer(ctx.pointer, {
    bundleUri,
    version,
    runId: input.runId,
    now: ctx.now?.() ?? new Date(),
  });
  ctx.log("promoted", { version, previous: previous?.version ?? "none", pointer: ctx.pointer.location });
  return {
    version,
    pointer: ctx.pointer.location,
    previous: previous?.version ?? null,
    publish: publishRequest(ctx, trained),
  };
}

function publishRequest(ctx: PipelineContext, trained: TrainResult): PublishRequest | null {
  if (!ctx.publish) return null;
  // The publish consumer reads the bundle from the models bucket: give it the bucket key, not the store key.
  const s3Key = /^s3:\/\/[^/]+\/(.+)$/.exec(ctx.store.uri(trained.bundleKey))?.[1];
  return PublishRequest.parse({
    bundlePrefix: s3Key ?? trained.bundleKey,
    version: trained.version,
    repo: ctx.publish.repo,
    uid: ctx.publish.uid,
  });
}

/** The step functions by the name the state machine's tasks carry. */
export const STEPS = {
  "version-dataset": versionDataset,
  train,
  evaluate,
  gate,
  promote,
} as const;
export type StepName = keyof typeof STEPS;
