// Rows of an image dataset stored as parquet the way Hugging Face `datasets` writes it: an Image feature is a struct
// column {bytes: binary, path: string}, and the file's key-value metadata holds the features under "huggingface"
// ({"info": {"features": {...}}}). Read with hyparquet, one row group at a time.
import { parquetMetadata, parquetReadObjects, parquetSchema } from "hyparquet";
import { z } from "zod";

const FeatureSchema = z.looseObject({ _type: z.string(), names: z.array(z.string()).optional() });
const HfMetadataSchema = z.looseObject({
  info: z.looseObject({ features: z.record(z.string(), z.unknown()) }).optional(),
});

export interface ImageRow {
  row: number;
  /** Image bytes; undefined when the cell held none (the reason is in `problem`). */
  bytes?: Uint8Array;
  /** 0/1, null when the row has no label, undefined when the dataset has no label column. */
  label: 0 | 1 | null | undefined;
  sceneDescription?: string;
  /** Why the image could not be read. */
  problem?: string;
  /** Why the label could not be read (the image is still usable, unlabelled). */
  labelProblem?: string;
}

export interface ParquetImageShard {
  rows: number;
  rowGroups: number;
  imageColumn: string;
  labelColumn: string | undefined;
  /** Yields every row; a row that cannot be read yields `problem` instead of failing the shard. */
  read(): AsyncGenerator<ImageRow>;
}

/** Maps a label cell to 0/1 (ints, bigints, booleans, "0"/"1", or ClassLabel names like "roadwork"/"no_roadwork"). */
export function labelOf(value: unknown, names?: string[]): 0 | 1 | null | "invalid" {
  if (value === null || value === undefined) return null;
  let v: unknown = typeof value === "bigint" ? Number(value) : value;
  if (names && typeof v === "number" && Number.isInteger(v) && names[v] !== undefined) v = names[v];
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v === 0 || v === 1) return v;
  if (typeof v === "string") {
    const s = v
      .trim()
      .toLowerCase()
      .replace(/[\s_-]+/g, "");
    if (["1", "roadwork", "true", "yes", "positive"].includes(s)) return 1;
    if (["0", "noroadwork", "none", "false", "no", "negative"].includes(s)) return 0;
  }
  return "invalid";
}

function imageBytes(cell: unknown): { bytes?: Uint8Array; problem?: string } {
  let v: unknown = cell;
  if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
    const o = v as Record<string, unknown>;
    if (o.bytes === null || o.bytes === undefined) {
      return { problem: o.path ? `image stored by path only (${String(o.path)}), not embedded` : "no image bytes" };
    }
    v = o.bytes;
  }
  if (v instanceof Uint8Array) return { bytes: v };
  // natix's own loader falls back to base64 text; so do we.
  if (typeof v === "string" && /^[A-Za-z0-9+/=\s]+$/.test(v))
    return { bytes: new Uint8Array(Buffer.from(v, "base64")) };
  return { problem: v === null || v === undefined ? "no image" : `unexpected image cell (${typeof v})` };
}

/** Opens a shard; throws (with a reason) only when the file as a whole is not a readable image parquet. */
export function openImageShard(buffer: ArrayBuffer): ParquetImageShard {
  let metadata: ReturnType<typeof parquetMetadata>;
  try {
    metadata = parquetMetadata(buffer);
  } catch (error) {
    throw new Error(`not a readable parquet file (truncated or corrupt?): ${(error as Error).message}`);
  }
  const top = parquetSchema(metadata).children.map((c) => c.element.name);
  let features: Record<string, unknown> = {};
  const hf = metadata.key_value_metadata?.find((kv) => kv.key === "huggingface")?.value;
  if (hf) {
    try {
      features = HfMetadataSchema.parse(JSON.parse(hf)).info?.features ?? {};
    } catch {
      features = {};
    }
  }
  const featureOf = (name: string) => FeatureSchema.safeParse(features[name]);
  // The Image feature when the metadata names one; else, as natix's extract.py does, the first column named *image*.
  const imageColumn: string | undefined =
    top.find((n) => featureOf(n).success && featureOf(n).data!._type === "Image") ??
    top.find((n) => n.toLowerCase().includes("image"));
  if (!imageColumn) throw new Error(`no image column (columns: ${top.join(", ")})`);
  const image: string = imageColumn;
  const labelColumn = top.find((n) => n === "label") ?? top.find((n) => n.toLowerCase() === "labels");
  const names = labelColumn ? featureOf(labelColumn).data?.names : undefined;
  const hasScene = top.includes("scene_description");
  const columns = [image, ...(labelColumn ? [labelColumn] : []), ...(hasScene ? ["scene_description"] : [])];
  const rows = Number(metadata.num_rows);

  async function* read(): AsyncGenerator<ImageRow> {
    let start = 0;
    for (const group of metadata.row_groups) {
      const n = Number(group.num_rows);
      let objects: Record<string, unknown>[];
      try {
        objects = await parquetReadObjects({
          file: buffer,
          metadata,
          columns,
          rowStart: start,
          rowEnd: start + n,
          utf8: false,
        });
      } catch (error) {
        for (let i = 0; i < n; i++)
          yield { row: start + i, label: undefined, problem: `unreadable row group: ${(error as Error).message}` };
        start += n;
        continue;
      }
      for (let i = 0; i < objects.length; i++) {
        const o = objects[i]!;
        const { bytes, problem } = imageBytes(o[image]);
        let label: ImageRow["label"];
        let labelProblem: string | undefined;
        if (labelColumn) {
          const l = labelOf(o[labelColumn], names);
          if (l === "invalid") {
            label = null;
            labelProblem = `label ${String(o[labelColumn])} is not roadwork (1) or no roadwork (0)`;
          } else label = l;
        }
        const scene = o.scene_description;
        yield {
          row: start + i,
          ...(bytes ? { bytes } : {}),
          label,
          ...(typeof scene === "string" && scene ? { sceneDescription: scene } : {}),
          ...(problem ? { problem } : {}),
          ...(labelProblem ? { labelProblem } : {}),
        };
      }
      start += n;
    }
  }
  return { rows, rowGroups: metadata.row_groups.length, imageColumn, labelColumn, read };
}
