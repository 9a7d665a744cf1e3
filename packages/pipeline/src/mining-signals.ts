// What mining (`roadwork mine`, the daily capture export) measures on each unlabelled image with the serving bundle: the served score, the probability
// of every ensemble member × TTA view on its own (for disagreement), and a backbone embedding (for diversity).
// Lives in the pipeline package because it joins the inference engine (scoring) and the trainer's embedding extractor.
import { join } from "node:path";
import type { MiningCandidate } from "@roadwork/data";
import type { LocalBundle, Manifest, OnnxScorer } from "@roadwork/inference";
import sharp from "sharp";

export interface MiningSignals {
  modelVersion: string;
  /** Where embeddings come from, for the batch record. */
  embedding: string;
  measure(sha256: string, image: Uint8Array): Promise<MiningCandidate>;
  /** The backbone embedding alone (for already-labelled images, which only count as covered ground). */
  embed(image: Uint8Array): Promise<Float32Array>;
  close(): Promise<void>;
}

export async function openMiningSignals(bundleDir: string): Promise<MiningSignals> {
  const inference = await import("@roadwork/inference");
  const { readBundleDir, silentLogger } = inference;
  const bundle = await readBundleDir(bundleDir);
  const options = { executionProvider: "cpu" as const, logger: silentLogger, cacheSize: 0 };
  const full = await inference.OnnxScorer.load(bundle, options);
  // One single-member, single-view bundle per member × view: their spread is the committee's disagreement.
  const views: OnnxScorer[] = [];
  const m = bundle.manifest;
  if (m.members.length * m.tta.length > 1) {
    for (const member of m.members) {
      for (const view of m.tta) {
        const single: LocalBundle = { dir: bundle.dir, manifest: { ...m, members: [member], tta: [view] } as Manifest };
        views.push(await inference.OnnxScorer.load(single, options));
      }
    }
  }
  const embedder = await openEmbedder(bundle);
  return {
    modelVersion: full.modelVersion,
    embedding: embedder.name,
    async measure(sha256, image) {
      const [{ score }, viewScores, embedding] = await Promise.all([
        full.score(image),
        Promise.all(views.map((v) => v.score(image).then((r) => r.score))),
        embedder.embed(image),
      ]);
      return { sha256, score, views: viewScores, embedding };
    },
    embed: (image) => embedder.embed(image),
    async close() {
      await Promise.all([full.close(), ...views.map((v) => v.close()), embedder.close()]);
    },
  };
}

interface Embedder {
  name: string;
  embed(image: Uint8Array): Promise<Float32Array>;
  close(): Promise<void>;
}

/** The first member's backbone when it has a separate head; otherwise a 16×16 colour thumbnail stands in. */
async function openEmbedder(bundle: LocalBundle): Promise<Embedder> {
  const member = bundle.manifest.members[0]!;
  if (member.head) {
    const { EmbeddingExtractor } = await import("@roadwork/training");
    const extractor = await EmbeddingExtractor.load({
      model: join(bundle.dir, member.onnx),
      preprocessing: member.preprocessing,
      output: member.head.embedding.output,
      token: member.head.embedding.token,
    });
    return {
      name: `backbone ${member.onnx} output ${member.head.embedding.output}`,
      async embed(image) {
        const m = await extractor.embed(1, async () => image);
        return m.data;
      },
      close: () => extractor.close(),
    };
  }
  return {
    name: "16x16 RGB thumbnail (the bundle has no separate backbone)",
    async embed(image) {
      const raw = await sharp(image).resize(16, 16, { fit: "fill" }).removeAlpha().raw().toBuffer();
      return Float32Array.from(raw, (v) => v / 255 - 0.5);
    },
    close: async () => {},
  };
}
