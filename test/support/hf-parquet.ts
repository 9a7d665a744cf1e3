// Parquet shards as Hugging Face `datasets` writes an image dataset (Dataset.to_parquet / push_to_hub): the Image
// feature as a struct column {bytes: binary, path: string}, Value columns, and the features in the file's key-value
// metadata under "huggingface". Written by hyparquet-writer, a maintained parquet writer.
import { parquetWriteBuffer } from "hyparquet-writer";

export interface HfImageRow {
  image: { bytes: Uint8Array | null; path: string | null } | null;
  label: number | null;
  scene_description: string | null;
}

/** `data/<split>-<index>-of-<count>.parquet`, the shard naming of push_to_hub. */
export const shardPath = (split: string, index: number, count: number): string =>
  `data/${split}-${String(index).padStart(5, "0")}-of-${String(count).padStart(5, "0")}.parquet`;

export function hfImageParquet(rows: HfImageRow[], options: { rowGroupSize?: number; classNames?: string[] } = {}) {
  const features = {
    image: { _type: "Image" },
    label: options.classNames ? { names: options.classNames, _type: "ClassLabel" } : { dtype: "int64", _type: "Value" },
    scene_description: { dtype: "string", _type: "Value" },
  };
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: "image", data: rows.map((r) => r.image) },
      { name: "label", data: rows.map((r) => (r.label === null ? null : BigInt(r.label))) },
      { name: "scene_description", data: rows.map((r) => r.scene_description) },
    ],
    schema: [
      { name: "schema", num_children: 3 },
      { name: "image", repetition_type: "OPTIONAL", num_children: 2 },
      { name: "bytes", type: "BYTE_ARRAY", repetition_type: "OPTIONAL" },
      { name: "path", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
      { name: "label", type: "INT64", repetition_type: "OPTIONAL" },
      { name: "scene_description", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
    ],
    rowGroupSize: options.rowGroupSize ?? 1000,
    kvMetadata: [{ key: "huggingface", value: JSON.stringify({ info: { features } }) }],
  });
  return new Uint8Array(buffer);
}
