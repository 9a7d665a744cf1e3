// The contract between scripts/export-backbone.py and `roadwork train --backbone <dir>`: member.json exactly as the
// script writes it is accepted, and a backbone.onnx that does not match its sha256 is refused.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { GraphBuilder } from "@roadwork/inference";
import { describeExportedBackbone } from "../src/backbone-export.ts";

/** pixel_values [N,3,28,28] → embedding [N,6]: the script's interface, with trivial arithmetic inside. */
function exportedModel(): Uint8Array {
  const g = new GraphBuilder("exported");
  g.input("pixel_values", "float32", ["N", 3, 28, 28]);
  const [pooled] = g.node("GlobalAveragePool", ["pixel_values"]);
  const [flat] = g.node("Flatten", [pooled!], 1, { axis: 1 });
  g.node("Concat", [flat!, flat!], ["embedding"], { axis: 1 });
  g.output("embedding", "float32", ["N", 6]);
  return g.toModel();
}

describe("scripts/export-backbone.py output", () => {
  it("is what roadwork train reads; a tampered backbone.onnx is refused", async () => {
    const dir = await mkdtemp(join(tmpdir(), "roadwork-export-"));
    try {
      const onnx = exportedModel();
      await writeFile(join(dir, "backbone.onnx"), onnx);
      // Field for field what export-backbone.py writes (member = {...} in main()).
      const member = {
        id: "dinov2-with-registers-small",
        onnx: "backbone.onnx",
        sha256: createHash("sha256").update(onnx).digest("hex"),
        input: { name: "pixel_values", shape: ["N", 3, 28, 28], dtype: "float32" },
        preprocessing: {
          image_processor_type: "BitImageProcessor",
          do_resize: true,
          size: { shortest_edge: 32 },
          resample: 3,
          do_center_crop: true,
          crop_size: { height: 28, width: 28 },
          do_rescale: true,
          rescale_factor: 1 / 255,
          do_normalize: true,
          image_mean: [0.485, 0.456, 0.406],
          image_std: [0.229, 0.224, 0.225],
          do_convert_rgb: true,
        },
        embedding: { output: "embedding", token: "none", dim: 6, pool: "cls+mean-patch" },
        source: { model: "facebook/dinov2-with-registers-small", revision: null, randomWeights: false },
      };
      await writeFile(join(dir, "member.json"), JSON.stringify(member, null, 2));
      const backbone = await describeExportedBackbone(dir);
      assert.equal(backbone.model, join(dir, "backbone.onnx"));
      assert.equal(backbone.inputName, "pixel_values");
      assert.equal(backbone.size, 28);
      assert.equal(backbone.output, "embedding");
      assert.equal(backbone.token, "none");
      assert.deepEqual(backbone.preprocessing.crop_size, { height: 28, width: 28 });
      assert.equal(backbone.provenance?.sha256, member.sha256);

      await writeFile(join(dir, "backbone.onnx"), exportedModel().subarray(0, 40));
      await assert.rejects(describeExportedBackbone(dir), /does not match member.json .*export it again/);
      await assert.rejects(describeExportedBackbone(join(dir, "nowhere")), /export the backbone with scripts/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
