import assert from "node:assert/strict";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { sigmoid } from "../src/calibration.ts";
import { IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD } from "../src/image/preprocess.ts";
import { buildTinyClassifier, tinyClassifierReference } from "../src/onnx/tiny-classifier.ts";

function normalized(size: number, pixel: (x: number, y: number) => [number, number, number]): Float32Array {
  const out = new Float32Array(3 * size * size);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const rgb = pixel(x, y);
      for (let c = 0; c < 3; c++) {
        out[c * size * size + y * size + x] =
          ((rgb[c] as number) / 255 - (IMAGENET_DEFAULT_MEAN[c] as number)) / (IMAGENET_DEFAULT_STD[c] as number);
      }
    }
  return out;
}

test("tiny classifier: deterministic per seed, matches the JS reference, and scores orange scenes higher", async () => {
  assert.deepEqual(buildTinyClassifier({ seed: 5 }), buildTinyClassifier({ seed: 5 }));
  assert.notDeepEqual(buildTinyClassifier({ seed: 5 }), buildTinyClassifier({ seed: 6 }));
  const session = await ort.InferenceSession.create(buildTinyClassifier({ seed: 5 }));
  const images = {
    gray: normalized(224, () => [128, 128, 128]),
    sky: normalized(224, (_, y) => (y < 100 ? [120, 160, 230] : [90, 90, 95])),
    cones: normalized(224, (x, y) => (y > 90 && x > 60 && x < 170 ? [240, 120, 20] : [90, 90, 95])),
  };
  const batch = new Float32Array(3 * 3 * 224 * 224);
  for (const [i, img] of Object.values(images).entries()) batch.set(img, i * img.length);
  const out = (await session.run({ pixel_values: new ort.Tensor("float32", batch, [3, 3, 224, 224]) }))
    .probability as ort.Tensor;
  assert.deepEqual(out.dims, [3, 1]);
  const p = [...(out.data as Float32Array)];
  Object.values(images).forEach((img, i) => {
    assert.ok(Math.abs((p[i] as number) - sigmoid(tinyClassifierReference(img, 224, 5))) < 1e-5);
  });
  const [gray, sky, cones] = p as [number, number, number];
  assert.ok(cones > 0.5 && gray < 0.5 && sky < 0.5, `cones ${cones}, gray ${gray}, sky ${sky}`);
  await session.release();
});
