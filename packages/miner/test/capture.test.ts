// Challenge capture: what is kept (band, seeded sample, dedup, format guess), where (local dir, S3 emulator), and
// that a throwing or hanging store loses only captures while a running axon keeps answering every request.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { Keyring } from "@polkadot/keyring";
import { MetagraphSnapshot } from "@roadwork/chain/snapshot";
import { loadScorer, silentLogger as quietInference, type Scorer, writeTinyClassifier } from "@roadwork/inference";
import {
  type CaptureRecord,
  CaptureRecordSchema,
  type CaptureStore,
  ChallengeCapture,
  type ChallengeFacts,
  captureEnv,
  createAxon,
  LocalCaptureStore,
  S3CaptureStore,
  SwappableMetagraph,
  silentLogger,
  startAxon,
} from "@roadwork/miner";
import { Dendrite, ensureCryptoReady } from "@roadwork/protocol";
import { startFauxqs } from "fauxqs";
import sharp from "sharp";

const DAY = Date.parse("2026-11-30T06:00:00Z");
const facts = (i: number, score: number, extra: Partial<ChallengeFacts> = {}): ChallengeFacts => ({
  requestId: `req-${i}`,
  receivedAt: DAY + i,
  score,
  prediction: score,
  modelVersion: "demo@1.0.0",
  callerHotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
  callerUid: 4,
  testnetLabel: -1,
  ...extra,
});

/** A distinct 224×224 JPEG per seed (a noisy street-ish gradient). */
async function jpeg(seed: number, width = 224, height = 224): Promise<Uint8Array> {
  const px = Buffer.alloc(width * height * 3);
  for (let i = 0; i < px.length; i++) px[i] = ((i * 31 + seed * 97 + ((i / 3) % width) * 3) % 200) + 40;
  return new Uint8Array(
    await sharp(px, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 75 })
      .toBuffer(),
  );
}

/** A 16:9 frame letterboxed into 224×224 with black bars, as April 2026 validators send. */
async function letterboxed(seed: number): Promise<Uint8Array> {
  const frame = await jpeg(seed, 320, 180);
  return new Uint8Array(
    await sharp(frame)
      .resize(224, 224, { fit: "contain", background: { r: 0, g: 0, b: 0 } })
      .jpeg({ quality: 75 })
      .toBuffer(),
  );
}

async function listRecords(dir: string): Promise<CaptureRecord[]> {
  const out: CaptureRecord[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.name.endsWith(".json"))
        out.push(CaptureRecordSchema.parse(JSON.parse(await readFile(join(d, e.name), "utf8"))));
    }
  };
  await walk(dir);
  return out;
}

describe("ChallengeCapture", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "roadwork-capture-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("keeps every challenge near the threshold, a seeded few percent of the rest, each image once", async () => {
    const data = join(dir, "band");
    const capture = new ChallengeCapture({
      store: new LocalCaptureStore(data),
      config: { band: 0.1, sampleRate: 0.05, seed: 7 },
    });
    const images = await Promise.all(Array.from({ length: 20 }, (_, i) => jpeg(i)));
    // 10 near the threshold (one sent twice), 200 confident ones reusing the same pixels.
    for (let i = 0; i < 10; i++) capture.offer(images[i]!, facts(i, 0.45 + i * 0.01));
    capture.offer(images[3]!, facts(99, 0.48));
    for (let i = 0; i < 200; i++) capture.offer(images[10 + (i % 10)]!, facts(100 + i, i % 2 ? 0.97 : 0.02));
    await capture.flush();
    const s = capture.stats;
    assert.equal(s.offered, 211);
    assert.equal(s.sampledOut + s.queued, 211);
    // 5% of 200 draws: the seeded sample is reproducible, and well inside [2, 25].
    const sampled = s.queued - 11;
    assert.ok(sampled >= 2 && sampled <= 25, `sampled ${sampled}`);
    const records = await listRecords(join(data, "captures"));
    const near = records.filter((r) => r.reason === "near-threshold");
    assert.equal(near.length, 10);
    assert.equal(s.written, records.length);
    assert.equal(s.duplicates, s.queued - s.written);
    assert.equal(new Set(records.map((r) => r.sha256)).size, records.length);
    for (const r of records) {
      assert.match(r.file, /^[0-9a-f]{64}\.jpg$/);
      const bytes = await readFile(join(data, "captures", "2026", "11", "30", r.file));
      assert.equal(bytes.length, r.byteLength);
      assert.equal(r.validatorFormat, "crop-224");
      assert.equal(r.testnetLabel, null);
      assert.equal(r.modelVersion, "demo@1.0.0");
    }
    // Same seed, same offers: the same sample.
    const again = new ChallengeCapture({
      store: new LocalCaptureStore(join(dir, "band-again")),
      config: { band: 0.1, sampleRate: 0.05, seed: 7 },
    });
    for (let i = 0; i < 10; i++) again.offer(images[i]!, facts(i, 0.45 + i * 0.01));
    again.offer(images[3]!, facts(99, 0.48));
    for (let i = 0; i < 200; i++) again.offer(images[10 + (i % 10)]!, facts(100 + i, i % 2 ? 0.97 : 0.02));
    await again.flush();
    assert.equal(again.stats.queued, s.queued);
  });

  it("guesses the validator format and keeps a testnet label", async () => {
    const data = join(dir, "formats");
    const capture = new ChallengeCapture({ store: new LocalCaptureStore(data), config: { band: 0.5 } });
    capture.offer(await jpeg(1), facts(1, 0.3, { testnetLabel: 1 }));
    capture.offer(await letterboxed(2), facts(2, 0.6));
    capture.offer(await jpeg(3, 1280, 720), facts(3, 0.7, { testnetLabel: 0 }));
    await capture.flush();
    const byId = new Map((await listRecords(join(data, "captures"))).map((r) => [r.requestId, r]));
    assert.equal(byId.get("req-1")?.validatorFormat, "crop-224");
    assert.equal(byId.get("req-1")?.testnetLabel, 1);
    assert.equal(byId.get("req-2")?.validatorFormat, "letterbox-224");
    assert.equal(byId.get("req-3")?.validatorFormat, "native");
    assert.equal(byId.get("req-3")?.width, 1280);
    assert.equal(byId.get("req-3")?.testnetLabel, 0);
  });

  it("bounds the queue and counts what it drops; a failing store loses only captures", async () => {
    let calls = 0;
    const failing: CaptureStore = {
      where: "nowhere",
      put: async () => {
        calls++;
        throw new Error("disk full");
      },
    };
    const capture = new ChallengeCapture({ store: failing, config: { band: 0.5, maxQueued: 5, concurrency: 1 } });
    const image = await jpeg(5);
    const others = await Promise.all([6, 7, 8, 9, 10, 11, 12, 13].map((s) => jpeg(s)));
    capture.offer(image, facts(0, 0.5));
    for (const [i, img] of others.entries()) capture.offer(img, facts(i + 1, 0.5));
    assert.equal(capture.stats.dropped, 4); // 5 queued synchronously, the writer has not run yet
    await capture.flush();
    assert.equal(capture.stats.failed, 5);
    assert.equal(calls, 5);
    assert.match(capture.renderMetrics(), /roadwork_axon_captures_total\{outcome="dropped"\} 4/);
    // A failed image is not remembered as written: offered again, it is tried again.
    capture.offer(image, facts(20, 0.5));
    await capture.flush();
    assert.equal(capture.stats.failed, 6);
    assert.equal(capture.stats.duplicates, 0);
  });
});

describe("captureEnv", () => {
  it("is off without a bucket, reads band and rate, and names every bad variable", () => {
    assert.equal(captureEnv({}), undefined);
    assert.deepEqual(
      captureEnv({ ROADWORK_CAPTURE_BUCKET: "data", ROADWORK_CAPTURE_BAND: "0.2", AWS_REGION: "us-east-1" }),
      { bucket: "data", prefix: "captures/", config: { band: 0.2 } },
    );
    assert.throws(
      () => captureEnv({ ROADWORK_CAPTURE_BUCKET: "data", ROADWORK_CAPTURE_SAMPLE_RATE: "3", AWS_REGION: "x" }),
      /ROADWORK_CAPTURE_SAMPLE_RATE/,
    );
    assert.throws(() => captureEnv({ ROADWORK_CAPTURE_BUCKET: "data" }), /AWS_REGION/);
  });
});

describe("S3CaptureStore", () => {
  it("writes the image and its record under captures/YYYY/MM/DD/ through the S3 API", async () => {
    const server = await startFauxqs({ port: 0, logger: false });
    const s3 = new S3Client({
      endpoint: server.address,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      forcePathStyle: true,
    });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: "data" }));
      const capture = new ChallengeCapture({
        store: new S3CaptureStore({ s3, bucket: "data" }),
        config: { band: 0.5 },
      });
      const image = await jpeg(42);
      capture.offer(image, facts(1, 0.52));
      await capture.flush();
      assert.equal(capture.stats.written, 1);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: "data", Prefix: "captures/2026/11/30/" }));
      const keys = (listed.Contents ?? []).map((o) => o.Key ?? "").sort();
      assert.equal(keys.length, 2);
      const jsonKey = keys.find((k) => k.endsWith(".json"))!;
      const record = CaptureRecordSchema.parse(
        JSON.parse(
          (await (await s3.send(new GetObjectCommand({ Bucket: "data", Key: jsonKey }))).Body?.transformToString()) ??
            "",
        ),
      );
      const stored = await (
        await s3.send(new GetObjectCommand({ Bucket: "data", Key: `captures/2026/11/30/${record.file}` }))
      ).Body?.transformToByteArray();
      assert.deepEqual(Buffer.from(stored ?? []), Buffer.from(image));
    } finally {
      s3.destroy();
      await server.stop();
    }
  });
});

describe("capture in a running axon", () => {
  let scorer: Scorer;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "roadwork-capture-axon-"));
    const model = join(dir, "tiny.onnx");
    await writeTinyClassifier(model, { seed: 7 });
    scorer = await loadScorer({ model, executionProvider: "cpu", logger: quietInference });
  });
  after(async () => {
    await scorer.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const kind of ["throws", "hangs"] as const) {
    it(`answers every challenge while the capture store ${kind}`, async () => {
      await ensureCryptoReady();
      const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
      const miner = keyring.addFromUri("//Bob");
      const validator = keyring.addFromUri("//Alice");
      const metagraph = new SwappableMetagraph(
        MetagraphSnapshot.parse({
          netuid: 323,
          block: 1,
          neurons: [
            { uid: 0, hotkey: validator.address, stake: 1000, validatorPermit: true },
            { uid: 1, hotkey: miner.address, stake: 1, validatorPermit: false },
          ],
        }),
      );
      let puts = 0;
      const store: CaptureStore = {
        where: `a store that ${kind}`,
        put: () => {
          puts++;
          return kind === "throws" ? Promise.reject(new Error("S3 is down")) : new Promise<void>(() => {});
        },
      };
      const capture = new ChallengeCapture({
        store,
        config: { band: 0.5, putTimeoutMs: 200, maxQueued: 4, concurrency: 1 },
        logger: silentLogger,
      });
      const axon = createAxon({
        hotkey: { address: miner.address },
        scorer,
        metagraph,
        config: { host: "127.0.0.1", port: 0, admin: { port: 0 }, signatureVerification: "inline" },
        logger: silentLogger,
        capture,
      });
      const running = await startAxon(axon);
      try {
        const dendrite = new Dendrite({ signer: { address: validator.address, sign: (m) => validator.sign(m) } });
        const target = { ip: "127.0.0.1", port: running.port, hotkey: miner.address };
        const images = await Promise.all(Array.from({ length: 12 }, (_, i) => jpeg(100 + i)));
        const results = await Promise.all(images.map((image) => dendrite.call({ axon: target, image, timeout: 9 })));
        for (const r of results) {
          assert.equal(r.status, 200);
          assert.ok(r.prediction >= 0 && r.prediction <= 1);
        }
        await capture.close(5_000);
        const s = capture.stats;
        assert.equal(s.offered, 12);
        assert.equal(s.written, 0);
        assert.ok(s.failed >= 1 && s.failed === puts, JSON.stringify(s));
        assert.equal(s.failed + s.dropped + s.duplicates, 12);
        const metrics = await (await fetch(`${running.adminUrl}/metrics`)).text();
        assert.match(metrics, /roadwork_axon_captures_total\{outcome="failed"\} [1-9]/);
        assert.match(metrics, /roadwork_axon_predictions_total 12/);
      } finally {
        await running.close(1_000);
      }
    });
  }
});
