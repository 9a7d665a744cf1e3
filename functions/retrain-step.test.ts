// The state machine's step Lambda against fauxqs S3 with the real SDK client: a dataset version committed to the
// datasets bucket is published as datasets/latest/manifest.json (what a decay- or drift-driven retrain trains on),
// version-dataset copies it content-addressed into the pipeline store once, gate records its decision beside the run,
// and an event the state machine never sends is refused with what was expected.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describeImage, newRecord, s3DatasetStore } from "@roadwork/data";
import { LATEST_DATASET_KEY, recordLatestDataset, S3Store } from "@roadwork/pipeline";
import sharp from "sharp";
import { type Emulators, startEmulators } from "../packages/lifecycle/test/support/aws-emulators.ts";
import { createRetrainStepHandler, RetrainStepEnv, stepContext } from "./retrain-step.ts";

const MODELS = "roadwork-models-step";
const DATASETS = "roadwork-datasets-step";
const RUN = "drift-2026-03-10";

/** A small photo-like image: a colour gradient with a few blocks, different per index. */
async function image(i: number): Promise<Uint8Array> {
  const w = 48;
  const h = 32;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      const block = ((x >> 3) * 7 + (y >> 3) * 13 + i * 29) % 5;
      px[o] = (x * 5 + i * 37 + block * 40) & 255;
      px[o + 1] = (y * 7 + i * 53) & 255;
      px[o + 2] = ((x ^ y) * 3 + i * 11 + block * 25) & 255;
    }
  }
  return new Uint8Array(
    await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .jpeg()
      .toBuffer(),
  );
}

describe("retrain-step Lambda against fauxqs S3", () => {
  let aws: Emulators;
  const handler = () =>
    createRetrainStepHandler(() => stepContext(aws.s3, RetrainStepEnv.parse({ MODELS_BUCKET: MODELS })));
  const keys = async (bucket: string, prefix: string) =>
    ((await aws.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map(
      (o) => o.Key!,
    );

  before(async () => {
    aws = await startEmulators();
    aws.server.createBucket(MODELS);
    aws.server.createBucket(DATASETS);
  });
  after(() => aws.stop());

  it("versions datasets/latest/manifest.json from the datasets bucket, once", async () => {
    const datasets = s3DatasetStore(aws.s3, DATASETS, "dataset/");
    const add = [];
    for (let i = 0; i < 16; i++) {
      const bytes = await image(i);
      await datasets.putImage(bytes);
      add.push(
        newRecord(await describeImage(bytes), {
          source: "folder",
          label: (i % 2) as 0 | 1,
          labelSource: "human",
          labelConfidence: 1,
          details: { file: `img-${i}.jpg` },
        }),
      );
    }
    const { version } = await datasets.update({ note: "step test", add });
    const store = new S3Store(aws.s3, MODELS, "models/pipeline/");
    const written = await recordLatestDataset(store, version, `s3://${DATASETS}/dataset/`);
    assert.equal(written.written, true);
    const latest = await store.getJson<{ id: string; datasetVersion: string; imageRoot: string; records: unknown[] }>(
      LATEST_DATASET_KEY,
    );
    assert.equal(latest?.datasetVersion, version.id);
    assert.equal(written.written && written.manifestId, latest?.id);
    assert.equal(latest?.imageRoot, `s3://${DATASETS}/dataset/`);
    const trainable = latest!.records.length;
    assert.ok(trainable > 0 && trainable <= 16);
    assert.deepEqual(await recordLatestDataset(store, version, `s3://${DATASETS}/dataset/`), {
      written: false,
      id: version.id,
      reason: "unchanged",
    });

    const input = { runId: RUN, reason: "drift", dataset: { manifest: LATEST_DATASET_KEY } };
    const first = (await handler()({ step: "version-dataset", input })) as {
      dataset: { id: string; key: string; added: number };
      trainJob: { datasetKey: string };
    };
    assert.equal(first.dataset.id, latest?.id);
    assert.equal(first.dataset.added, trainable);
    assert.equal(first.trainJob.datasetKey, `datasets/${latest?.id}/manifest.json`);
    const copied = await keys(MODELS, `models/pipeline/datasets/${latest?.id}/images/`);
    assert.equal(copied.length, trainable);
    const again = (await handler()({ step: "version-dataset", input })) as { dataset: { added: number } };
    assert.equal(again.dataset.added, 0, "a version already in the store is not copied again");

    // An image that vanished from the datasets bucket is a clear error, not a half-copied version.
    const { version: grown } = await datasets.update({
      note: "one more",
      add: [
        newRecord(await describeImage(await image(99)), {
          source: "folder",
          label: 1,
          labelSource: "human",
          labelConfidence: 1,
        }),
      ],
    });
    await recordLatestDataset(store, grown, `s3://${DATASETS}/dataset/`);
    const missing = grown.records.find((r) => !version.records.some((v) => v.sha256 === r.sha256))!;
    await aws.s3.send(
      new DeleteObjectCommand({
        Bucket: DATASETS,
        Key: `dataset/images/${missing.sha256.slice(0, 2)}/${missing.sha256}`,
      }),
    );
    await assert.rejects(
      handler()({ step: "version-dataset", input: { ...input, runId: "r-missing" } }),
      new RegExp(
        `dataset image s3://${DATASETS}/dataset//?images/${missing.sha256.slice(0, 2)}/${missing.sha256} is missing`,
      ),
    );
    const grownId = (await store.getJson<{ id: string }>(LATEST_DATASET_KEY))?.id;
    assert.notEqual(grownId, latest?.id);
    assert.deepEqual(await keys(MODELS, `models/pipeline/datasets/${grownId}/manifest.json`), []);
  });

  it("gate records its decision and figures beside the run", async () => {
    const store = new S3Store(aws.s3, MODELS, "models/pipeline/");
    const labels = Array.from({ length: 60 }, (_, i) => (i % 2) as 0 | 1);
    await store.putJson(`runs/${RUN}/evaluation.json`, {
      setId: "s".repeat(64),
      items: labels.map((label, i) => ({ label, format: ["crop-224", "letterbox-224", "native"][i % 3] })),
      challenger: {
        version: "roadwork@1.1.0",
        source: "s3://m/c/",
        scores: labels.map((l, i) => (i % 10 === 0 ? 1 - (l ? 0.8 : 0.2) : l ? 0.8 : 0.2)),
      },
    });
    const out = (await handler()({ step: "gate", input: { runId: RUN, gate: { resamples: 200 } } })) as {
      decision: string;
      challenger: { reward: number };
    };
    assert.equal(out.decision, "promote");
    assert.ok(out.challenger.reward > 0.5);
    const gate = JSON.parse(
      await (
        await aws.s3.send(new GetObjectCommand({ Bucket: MODELS, Key: `models/pipeline/runs/${RUN}/gate.json` }))
      ).Body!.transformToString(),
    );
    assert.equal(gate.decision, "promote");
    assert.deepEqual(
      (await keys(MODELS, `models/pipeline/runs/${RUN}/gate.`)).sort(),
      ["json", "md", "svg"].map((e) => `models/pipeline/runs/${RUN}/gate.${e}`),
    );
  });

  it("refuses an event the state machine never sends", async () => {
    await assert.rejects(handler()({ step: "train", input: {} }), /retrain-step expects \{step, input\}/);
    await assert.rejects(handler()({ step: "gate", input: { runId: "no-such-run" } }), /./);
  });
});
