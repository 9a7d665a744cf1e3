// `roadwork mine`: picks a labelling batch of hard cases from the unlabelled (captured) images of a dataset store:
// uncertainty under the serving model × diversity of backbone embeddings (docs/labelling.md). The batch is written
// beside the dataset (labelling/<id>.json) for `roadwork label`.
import { createHash } from "node:crypto";
import { defineCommand, UsageError } from "../command.ts";

export const command = defineCommand({
  name: "mine",
  summary: "pick a labelling batch of hard cases from captured images (uncertainty × diversity)",
  usage: "--data <dataset dir | s3://bucket/prefix> --model <bundle dir> --budget <n> [options]",
  description: `Candidates are the unlabelled images of the store's latest version (captured ones unless --all); bring
captures in first with 'roadwork dataset import <data dir> --out <data dir>'. Each is scored by the bundle (every
ensemble member and TTA view on its own too) and embedded by its backbone; the batch is the most uncertain first,
then weighted k-center greedy (Sener & Savarese 2018) for diversity. 'roadwork label --data <dir>' labels it.`,
  options: {
    data: { type: "string", value: "<dir | s3://…>", help: "dataset store holding the captures" },
    model: { type: "string", value: "<bundle dir>", help: "model bundle that scores and embeds the candidates" },
    budget: { type: "string", value: "<n>", help: "how many cases to pick" },
    threshold: { type: "string", value: "<p>", default: "0.5", help: "score where the answer flips" },
    "diversity-floor": {
      type: "string",
      value: "<w>",
      default: "0.1",
      help: "weight added to every case's uncertainty (0: pure uncertainty, large: plain k-center)",
    },
    all: { type: "boolean", default: false, help: "mine every unlabelled image, not only captured ones" },
    "labelled-sample": {
      type: "string",
      value: "<n>",
      default: "256",
      help: "labelled images embedded as already-covered ground, so the batch avoids what is labelled (0: none)",
    },
  },
  async run({ values }) {
    if (!values.data) throw new UsageError("--data is required");
    if (!values.model) throw new UsageError("--model is required (the bundle to score with, e.g. .roadwork/model)");
    const budget = Number(values.budget);
    if (!Number.isInteger(budget) || budget < 1) throw new UsageError("--budget must be a positive integer");
    const threshold = Number(values.threshold);
    const floor = Number(values["diversity-floor"]);
    if (!(threshold > 0 && threshold < 1)) throw new UsageError("--threshold must be between 0 and 1");
    if (!(floor >= 0)) throw new UsageError("--diversity-floor must be 0 or more");
    const labelledSample = Number(values["labelled-sample"]);
    if (!Number.isInteger(labelledSample) || labelledSample < 0)
      throw new UsageError("--labelled-sample must be 0 or a positive integer");

    const data = await import("@roadwork/data");
    const { openDatasetStore } = await import("../dataset-location.ts");
    const store = await openDatasetStore(values.data);
    const version = await store.latestVersion();
    if (!version) {
      throw new Error(
        `no dataset version in ${store.location}; import captures first: roadwork dataset import ${values.data} --out ${values.data}`,
      );
    }
    const pool = version.records.filter((r) => r.label === null && (values.all || r.source === "captured"));
    const say = (line: string) => process.stderr.write(`${line}\n`);
    if (pool.length === 0) {
      console.log(
        `nothing to mine: version ${version.id.slice(0, 12)} has no unlabelled ${values.all ? "" : "captured "}images`,
      );
      return 0;
    }
    const { openMiningSignals } = await import("../mining-signals.ts");
    const { ProgressBar } = await import("@roadwork/training");
    const signals = await openMiningSignals(values.model);
    const bar = new ProgressBar(process.stderr);
    const candidates: import("@roadwork/data").MiningCandidate[] = [];
    const covered: Float32Array[] = [];
    // Sener & Savarese's s0: the labelled pool is ground already covered. A seeded sample bounds the cost.
    const labelled = sampleLabelled(version.records, labelledSample, version.id);
    let unreadable = 0;
    try {
      for (const [i, r] of labelled.entries()) {
        try {
          covered.push(await signals.embed(await store.getImage(r.sha256)));
        } catch (error) {
          say(`skipping labelled ${r.sha256.slice(0, 12)}: ${(error as Error).message}`);
        }
        bar.update("embed labelled", i + 1, labelled.length);
      }
      for (const [i, r] of pool.entries()) {
        try {
          candidates.push(await signals.measure(r.sha256, await store.getImage(r.sha256)));
        } catch (error) {
          unreadable++;
          say(`skipping ${r.sha256.slice(0, 12)}: ${(error as Error).message}`);
        }
        bar.update("score+embed", i + 1, pool.length);
      }
    } finally {
      bar.done();
      await signals.close();
    }
    const picked = data.mineHardCases(candidates, { budget, threshold, diversityFloor: floor }, covered);
    const byRecord = new Map(pool.map((r) => [r.sha256, r]));
    const items = picked.map((p) => {
      const r = byRecord.get(p.sha256)!;
      return {
        sha256: p.sha256,
        mediaType: r.mediaType,
        score: p.score,
        margin: p.margin,
        disagreement: p.disagreement,
        uncertainty: p.uncertainty,
        rank: p.rank,
        validatorFormat: r.details.validatorFormat ?? null,
        teacher: null,
      };
    });
    const batch = {
      schemaVersion: 1 as const,
      id: data.batchId(version.id, items),
      createdAt: new Date().toISOString(),
      datasetVersion: version.id,
      modelVersion: signals.modelVersion,
      mining: {
        algorithm: "uncertainty (margin, member/view disagreement) x weighted k-center greedy",
        budget,
        threshold,
        diversityFloor: floor,
        candidates: candidates.length,
        labelledCovered: covered.length,
        embedding: signals.embedding,
      },
      items,
    };
    await data.saveBatch(store, batch);
    const mean = items.reduce((s, i) => s + i.uncertainty, 0) / Math.max(1, items.length);
    console.log(
      `mined batch ${batch.id}: ${items.length} cases of ${candidates.length} unlabelled (${unreadable} unreadable), ${covered.length} labelled as covered ground, mean uncertainty ${mean.toFixed(3)}, model ${signals.modelVersion} → ${store.where(data.batchKey(batch.id))}`,
    );
    return 0;
  },
});

/** Up to `n` labelled records, real ones first, in an order fixed by the version id (same version → same sample). */
function sampleLabelled<R extends { sha256: string; label: unknown; source: string }>(
  records: readonly R[],
  n: number,
  versionId: string,
): R[] {
  if (n === 0) return [];
  const key = (r: R) =>
    `${r.source === "synthetic" ? 1 : 0}${createHash("sha256")
      .update(versionId + r.sha256)
      .digest("hex")}`;
  return records
    .filter((r) => r.label !== null)
    .map((r) => ({ r, k: key(r) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .slice(0, n)
    .map((x) => x.r);
}
