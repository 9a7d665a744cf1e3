import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { type FauxqsServer, startFauxqs } from "fauxqs";
import { BundleError } from "../src/bundle/manifest.ts";
import { parseRemoteSource } from "../src/bundle/remote.ts";
import { loadScorer } from "../src/load.ts";
import { buildTinyClassifier } from "../src/onnx/tiny-classifier.ts";
import { silentLogger } from "../src/session.ts";
import { writeTinyBundle } from "./bundles.ts";
import { jpeg, scene } from "./images.ts";

let root: string;
let bundleDir: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "roadwork-remote-"));
  bundleDir = join(root, "bundle");
  await writeTinyBundle(bundleDir, { seeds: [3], version: "1.2.0" });
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const bundleFiles = async () =>
  Object.fromEntries(
    await Promise.all((await readdir(bundleDir)).map(async (f) => [f, await readFile(join(bundleDir, f))] as const)),
  );

test("source strings parse into S3 and Hugging Face locations", () => {
  assert.deepEqual(parseRemoteSource("s3://models-bucket/models/tiny/1.2.0/"), {
    scheme: "s3",
    bucket: "models-bucket",
    prefix: "models/tiny/1.2.0",
  });
  assert.deepEqual(parseRemoteSource("hf://natix/roadwork@v3"), {
    scheme: "hf",
    repo: "natix/roadwork",
    revision: "v3",
  });
  assert.deepEqual(parseRemoteSource("hf://natix/roadwork"), {
    scheme: "hf",
    repo: "natix/roadwork",
    revision: "main",
  });
  assert.equal(parseRemoteSource("/models/tiny"), undefined);
  assert.throws(() => parseRemoteSource("hf://just-a-name"), BundleError);
});

test("s3:// pointer → bundle through a real S3 client; tampered objects are refused", async () => {
  const server: FauxqsServer = await startFauxqs({ port: 0, logger: false });
  const s3 = new S3Client({
    endpoint: server.address,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    forcePathStyle: true,
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: "models" }));
    for (const [name, body] of Object.entries(await bundleFiles())) {
      await s3.send(new PutObjectCommand({ Bucket: "models", Key: `models/bundles/tiny-1.2.0/${name}`, Body: body }));
    }
    await s3.send(
      new PutObjectCommand({
        Bucket: "models",
        Key: "models/current.json",
        Body: JSON.stringify({ bundle: "bundles/tiny-1.2.0/", version: "1.2.0" }),
      }),
    );
    const cacheDir = join(root, "cache-s3");
    const scorer = await loadScorer({ model: "s3://models/models/current.json", s3, cacheDir, logger: silentLogger });
    assert.equal(scorer.modelVersion, "tiny@1.2.0");
    const r = await scorer.score(await jpeg(scene(224, 224, true), 224, 224));
    assert.ok(r.score > 0 && r.score < 1);
    await scorer.close();

    // A changed object under a new version: the download is refused by checksum.
    const manifest = JSON.parse((await bundleFiles())["manifest.json"]?.toString() ?? "{}");
    manifest.version = "1.3.0";
    await s3.send(
      new PutObjectCommand({
        Bucket: "models",
        Key: "models/bundles/tiny-1.3.0/manifest.json",
        Body: JSON.stringify(manifest),
      }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: "models",
        Key: "models/bundles/tiny-1.3.0/m0.onnx",
        Body: buildTinyClassifier({ seed: 77 }),
      }),
    );
    await assert.rejects(
      loadScorer({ model: "s3://models/models/bundles/tiny-1.3.0", s3, cacheDir, logger: silentLogger }),
      /bad checksum for s3:\/\/models\/models\/bundles\/tiny-1\.3\.0\/m0\.onnx/,
    );
    await assert.rejects(
      loadScorer({ model: "s3://models/models/bundles/none", s3, cacheDir }),
      /cannot read s3:\/\/models\/models\/bundles\/none\/manifest\.json|missing file manifest\.json/,
    );
    await assert.rejects(loadScorer({ model: "s3://models/models/current.json", cacheDir }), /needs an S3 client/);
  } finally {
    s3.destroy();
    await server.stop();
  }
});

test("hf://org/name@rev downloads resolve/<rev>/<file> from HF_ENDPOINT with the token, then serves from cache", async () => {
  const files = await bundleFiles();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? "");
    if (req.headers.authorization !== "Bearer hf_secret_token") {
      res.writeHead(401).end();
      return;
    }
    const m = /^\/natix\/roadwork\/resolve\/v1\/(.+)$/.exec(req.url ?? "");
    const body = m?.[1] ? files[decodeURIComponent(m[1])] : undefined;
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-length": body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const hfEndpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cacheDir = join(root, "cache-hf");
  try {
    const scorer = await loadScorer({
      model: "hf://natix/roadwork@v1",
      hfEndpoint,
      hfToken: "hf_secret_token",
      cacheDir,
      logger: silentLogger,
    });
    assert.equal(scorer.modelVersion, "tiny@1.2.0");
    await scorer.close();
    assert.deepEqual(requests.sort(), [
      "/natix/roadwork/resolve/v1/m0.onnx",
      "/natix/roadwork/resolve/v1/manifest.json",
    ]);
    // Second load: only the manifest is fetched, the verified files come from the cache.
    requests.length = 0;
    const cachedScorer = await loadScorer({
      model: "hf://natix/roadwork@v1",
      hfEndpoint,
      hfToken: "hf_secret_token",
      cacheDir,
      logger: silentLogger,
    });
    await cachedScorer.close();
    assert.deepEqual(requests, ["/natix/roadwork/resolve/v1/manifest.json"]);

    await assert.rejects(loadScorer({ model: "hf://natix/roadwork@v1", hfEndpoint, cacheDir }), (e: unknown) => {
      assert.match((e as Error).message, /refused access \(HTTP 401\).*provide a Hugging Face token/);
      return true;
    });
    await assert.rejects(
      loadScorer({ model: "hf://natix/other@v1", hfEndpoint, hfToken: "hf_secret_token", cacheDir }),
      (e: unknown) => {
        assert.match((e as Error).message, /missing file manifest\.json: not found in natix\/other at revision v1/);
        assert.doesNotMatch((e as Error).message, /hf_secret_token/);
        return true;
      },
    );
  } finally {
    await new Promise((r) => server.close(r));
  }
});
