// Helpers that write real bundles (tiny seeded classifiers) into temporary directories.
import { writeBundle } from "../src/bundle/local.ts";
import type { ManifestDraft, MemberDraft } from "../src/bundle/manifest.ts";
import { buildTinyClassifier } from "../src/onnx/tiny-classifier.ts";

export function tinyMember(id: string, extra: Partial<MemberDraft> = {}): MemberDraft {
  return {
    id,
    onnx: `${id}.onnx`,
    input: { name: "pixel_values", shape: ["N", 3, 224, 224], dtype: "float32" },
    preprocessing: { size: { height: 224, width: 224 }, resample: 2 },
    output: { name: "probability", kind: "sigmoid" },
    ...extra,
  };
}

export async function writeTinyBundle(
  dir: string,
  options: { version?: string; seeds?: number[]; weights?: number[]; draft?: Partial<ManifestDraft> } = {},
) {
  const seeds = options.seeds ?? [1];
  const files: Record<string, Uint8Array> = {};
  const members = seeds.map((seed, i) => {
    files[`m${i}.onnx`] = buildTinyClassifier({ seed });
    return tinyMember(`m${i}`, options.weights ? { weight: options.weights[i] as number } : {});
  });
  return writeBundle(dir, { name: "tiny", version: options.version ?? "1.0.0", members, ...options.draft }, files);
}
