// A synthetic batch becomes a dataset version: accepted images enter the store content-addressed, labelled with the
// prompt's label (labelSource "teacher" when the teacher confirmed it), with their generator, prompt, seed and — for
// image-to-image — the source image's sha256, so the dataset puts them in their source's group. Rejected images stay
// out of the dataset (they are kept beside the batch report).

import type { DerivedVersion } from "../dataset/derive.ts";
import { describeImage, newRecord } from "../dataset/image.ts";
import type { NewImageRecord } from "../dataset/record.ts";
import type { DatasetStore } from "../store/dataset-store.ts";
import type { BatchResult, SynthImageRecord } from "./batch.ts";

/** How sure a prompt's label is without a teacher: generators do not always draw what they are asked. */
export const PROMPT_LABEL_CONFIDENCE = 0.8;

export async function commitBatch(
  store: DatasetStore,
  result: BatchResult,
  readImage: (record: SynthImageRecord) => Promise<Uint8Array>,
  options: { name?: string } = {},
): Promise<DerivedVersion> {
  const add: NewImageRecord[] = [];
  // Images an earlier attempt of this batch made (a redelivered message) are committed too; the store skips any it has.
  const accepted = [...result.accepted, ...result.recovered.filter((r) => r.reasons.length === 0)];
  for (const r of accepted) {
    const bytes = await readImage(r);
    const facts = await describeImage(bytes);
    await store.putImage(bytes);
    const parentSha256 =
      r.provenance.parent && /^[0-9a-f]{64}$/.test(r.provenance.parent.id) ? r.provenance.parent.id : undefined;
    add.push(
      newRecord(facts, {
        source: "synthetic",
        label: r.label,
        labelSource: r.labelSource,
        labelConfidence:
          r.labelSource === "teacher" ? (r.teacher?.confidence ?? PROMPT_LABEL_CONFIDENCE) : PROMPT_LABEL_CONFIDENCE,
        details: {
          generator: result.generator,
          generatorVersion: result.model,
          prompt: r.provenance.prompt,
          negativePrompt: r.provenance.negativePrompt,
          seed: r.provenance.seed,
          ...(parentSha256 ? { parentSha256 } : {}),
        },
      }),
    );
  }
  const cost = `$${result.costUsd.toFixed(2)}`;
  return store.update({
    note: `synthetic batch ${result.batchId}: ${accepted.length} accepted, ${result.rejected.length} rejected, ${cost} (${result.generator})`,
    ...(options.name ? { name: options.name } : {}),
    add,
  });
}

/** A 16-hex-digit dataset phash as the 64-character bit string the gates compare. */
export function phashBits(hex: string): string {
  return [...hex].map((c) => Number.parseInt(c, 16).toString(2).padStart(4, "0")).join("");
}
