// Challenges as the validators make them: label drawn uniformly, an image with that label from a held-out split,
// augmentation level uniform 0..3, then a 224×224 JPEG at quality 75.
import { readFile } from "node:fs/promises";
import {
  type AugmentationLevel,
  augmentForChallenge,
  type DatasetRecord,
  drawLevel,
  type LoadedDataset,
  Prng,
  recordPath,
  type Split,
} from "@roadwork/data";

export interface Challenge {
  image: Buffer;
  label: 0 | 1;
  category: string;
  level: AugmentationLevel;
  recordId: string;
}

export class ChallengeSource {
  readonly #byLabel: [DatasetRecord[], DatasetRecord[]];
  readonly #rng: Prng;
  readonly #cache = new Map<string, Buffer>();

  constructor(
    private readonly dataset: LoadedDataset,
    options: { splits?: readonly Split[]; seed?: number | string } = {},
  ) {
    const splits = new Set<Split>(options.splits ?? ["test"]);
    const records = dataset.manifest.records.filter((r) => splits.has(r.split));
    this.#byLabel = [records.filter((r) => r.label === 0), records.filter((r) => r.label === 1)];
    if (this.#byLabel[0].length === 0 || this.#byLabel[1].length === 0) {
      throw new Error(`the ${[...splits].join("+")} split needs images of both labels to make challenges`);
    }
    this.#rng = new Prng(`challenges:${options.seed ?? 1}`);
  }

  get size(): number {
    return this.#byLabel[0].length + this.#byLabel[1].length;
  }

  async next(): Promise<Challenge> {
    const label = this.#rng.int(0, 1) as 0 | 1;
    const record = this.#rng.pick(this.#byLabel[label]);
    const rng = this.#rng.fork("augment");
    const level = drawLevel(rng);
    let bytes = this.#cache.get(record.id);
    if (!bytes) {
      bytes = await readFile(recordPath(this.dataset, record));
      this.#cache.set(record.id, bytes);
    }
    const { jpeg } = await augmentForChallenge(bytes, level, rng);
    return { image: jpeg, label, category: record.category, level, recordId: record.id };
  }
}
