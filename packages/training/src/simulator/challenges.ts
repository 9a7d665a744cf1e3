// Challenges as the validators make them: label drawn uniformly, an image with that label from a held-out split,
// then the format of the validator version sending it (spec §4.7): January's augmented 224×224 crops, April's
// letterbox, May's native-resolution frames — drawn from a format mix.
import { readFile } from "node:fs/promises";
import {
  type AugmentationLevel,
  type ChallengeFormat,
  type DatasetRecord,
  DEFAULT_FORMAT_MIX,
  drawFormat,
  drawNativeKind,
  type FormatMix,
  formatChallenge,
  GENERATOR_NAME,
  type LoadedDataset,
  type NativeKind,
  Prng,
  recordPath,
  renderNativeSceneFrame,
  type Split,
} from "@roadwork/data";

export interface Challenge {
  image: Buffer;
  label: 0 | 1;
  category: string;
  format: ChallengeFormat;
  /** Augmentation level (jan/apr); undefined for native frames. */
  level?: AugmentationLevel;
  width: number;
  height: number;
  recordId: string;
}

/** Native frames kept for reuse: a 1920×1080 JPEG is ~200 KB and takes ~0.3 s to draw. */
const NATIVE_CACHE_SIZE = 32;

/**
 * The frame a May validator would send for `record`: procedural scenes are re-drawn at a real native size; every
 * other source is already stored at its native resolution.
 */
export async function nativeFrame(dataset: LoadedDataset, record: DatasetRecord, kind: NativeKind): Promise<Buffer> {
  if (isProcedural(dataset, record)) {
    const frame = await renderNativeSceneFrame(record.seed, record.label, kind);
    if (frame) return frame;
  }
  return readFile(recordPath(dataset, record));
}

/** A scene of a generated procedural dataset, whose seed re-draws it (dataset-version views number their seeds). */
function isProcedural(dataset: LoadedDataset, record: DatasetRecord): boolean {
  return dataset.manifest.generator?.name === GENERATOR_NAME && record.id === `scene-${record.seed}`;
}

export class ChallengeSource {
  readonly #byLabel: [DatasetRecord[], DatasetRecord[]];
  readonly #rng: Prng;
  readonly #cache = new Map<string, Buffer>();
  readonly #native = new Map<string, Buffer>();
  readonly #mix: FormatMix;
  readonly #counts: Record<ChallengeFormat, number> = { jan: 0, apr: 0, may: 0 };

  constructor(
    private readonly dataset: LoadedDataset,
    options: { splits?: readonly Split[]; seed?: number | string; formats?: FormatMix } = {},
  ) {
    const splits = new Set<Split>(options.splits ?? ["test"]);
    const records = dataset.manifest.records.filter((r) => splits.has(r.split));
    this.#byLabel = [records.filter((r) => r.label === 0), records.filter((r) => r.label === 1)];
    if (this.#byLabel[0].length === 0 || this.#byLabel[1].length === 0) {
      throw new Error(`the ${[...splits].join("+")} split needs images of both labels to make challenges`);
    }
    this.#rng = new Prng(`challenges:${options.seed ?? 1}`);
    this.#mix = options.formats ?? DEFAULT_FORMAT_MIX;
  }

  get size(): number {
    return this.#byLabel[0].length + this.#byLabel[1].length;
  }

  /** The configured mix (weights per validator format). */
  get formats(): FormatMix {
    return this.#mix;
  }

  /** Challenges made so far, per format. */
  get counts(): Readonly<Record<ChallengeFormat, number>> {
    return { ...this.#counts };
  }

  async next(): Promise<Challenge> {
    const label = this.#rng.int(0, 1) as 0 | 1;
    const record = this.#rng.pick(this.#byLabel[label]);
    const rng = this.#rng.fork("augment");
    const format = drawFormat(rng, this.#mix);
    const source = format === "may" ? await this.#nativeOf(record, drawNativeKind(rng)) : await this.#bytesOf(record);
    const made = await formatChallenge(source, format, rng);
    this.#counts[format]++;
    return {
      image: made.jpeg,
      label,
      category: record.category,
      format,
      ...(made.augmentation ? { level: made.augmentation.level } : {}),
      width: made.width,
      height: made.height,
      recordId: record.id,
    };
  }

  async #bytesOf(record: DatasetRecord): Promise<Buffer> {
    let bytes = this.#cache.get(record.id);
    if (!bytes) {
      bytes = await readFile(recordPath(this.dataset, record));
      this.#cache.set(record.id, bytes);
    }
    return bytes;
  }

  async #nativeOf(record: DatasetRecord, kind: NativeKind): Promise<Buffer> {
    const key = `${record.id}:${kind}`;
    const hit = this.#native.get(key);
    if (hit) {
      // Most recently used last.
      this.#native.delete(key);
      this.#native.set(key, hit);
      return hit;
    }
    const frame = await nativeFrame(this.dataset, record, kind);
    this.#native.set(key, frame);
    if (this.#native.size > NATIVE_CACHE_SIZE) this.#native.delete(this.#native.keys().next().value!);
    return frame;
  }
}
