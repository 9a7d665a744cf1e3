// Shared setup for the axon end-to-end tests: dev keys, a real ONNX scorer, a running axon on 127.0.0.1:0, signed
// and raw HTTP clients, and generated JPEG/PNG images.

import { mkdtemp, rm } from "node:fs/promises";
import { request as httpRequest, type OutgoingHttpHeaders } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { MetagraphSnapshot, type SnapshotNeuron } from "@roadwork/chain/snapshot";
import { silentLogger as inferenceSilent, loadScorer, type Scorer, writeTinyClassifier } from "@roadwork/inference";
import {
  type Axon,
  type AxonConfigInput,
  type AxonLogger,
  createAxon,
  type PredictionSink,
  type RunningAxon,
  SwappableMetagraph,
  silentLogger,
  startAxon,
} from "@roadwork/miner";
import {
  Dendrite,
  type DendriteSigner,
  ensureCryptoReady,
  type NonceStore,
  type SignatureVerifier,
} from "@roadwork/protocol";
import sharp from "sharp";

export type Pair = KeyringPair;

export async function devKeys() {
  await ensureCryptoReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const from = (uri: string) => keyring.addFromUri(uri);
  return {
    alice: from("//Alice"),
    bob: from("//Bob"),
    charlie: from("//Charlie"),
    dave: from("//Dave"),
    eve: from("//Eve"),
    ferdie: from("//Ferdie"),
    stranger: from("//Stranger"),
    validator: (i: number) => from(`//Validator${i}`),
  };
}

export const signerOf = (pair: Pair): DendriteSigner => ({ address: pair.address, sign: (m) => pair.sign(m) });

export function neuron(uid: number, pair: Pair, stake: number, validatorPermit: boolean): SnapshotNeuron {
  return { uid, hotkey: pair.address, stake, validatorPermit };
}

export function metagraphOf(neurons: SnapshotNeuron[]): SwappableMetagraph {
  return new SwappableMetagraph(MetagraphSnapshot.parse({ netuid: 323, block: 1, neurons }));
}

/** A real small ONNX classifier on disk, loaded through the inference engine. */
export async function realScorer(): Promise<{ scorer: Scorer; modelPath: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "roadwork-axon-test-"));
  const modelPath = join(dir, "tiny.onnx");
  await writeTinyClassifier(modelPath, { seed: 7 });
  const scorer = await loadScorer({ model: modelPath, executionProvider: "cpu", logger: inferenceSilent });
  return {
    scorer,
    modelPath,
    async cleanup() {
      await scorer.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestAxon {
  axon: Axon;
  running: RunningAxon;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startTestAxon(options: {
  scorer: Scorer;
  hotkey: string;
  metagraph: SwappableMetagraph;
  config?: AxonConfigInput;
  nowNs?: () => bigint;
  onPrediction?: PredictionSink;
  logger?: AxonLogger;
  nonces?: NonceStore;
  signatureVerifier?: SignatureVerifier;
}): Promise<TestAxon> {
  const axon = createAxon({
    hotkey: { address: options.hotkey },
    scorer: options.scorer,
    metagraph: options.metagraph,
    config: { host: "127.0.0.1", port: 0, ...options.config },
    logger: options.logger ?? silentLogger,
    ...(options.nowNs ? { nowNs: options.nowNs } : {}),
    ...(options.onPrediction ? { onPrediction: options.onPrediction } : {}),
    ...(options.nonces ? { nonces: options.nonces } : {}),
    ...(options.signatureVerifier ? { signatureVerifier: options.signatureVerifier } : {}),
  });
  const running = await startAxon(axon);
  return { axon, running, port: running.port, url: running.url, close: () => running.close(2_000) };
}

export function dendriteFor(pair: Pair, uuid?: string): Dendrite {
  return new Dendrite({ signer: signerOf(pair), ...(uuid ? { uuid } : {}) });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  json(): unknown;
}

/** Sends exactly these headers and body (no header normalisation beyond Node's). Arrays send repeated headers. */
export function rawPost(
  port: number,
  options: {
    path?: string;
    method?: string;
    headers: OutgoingHttpHeaders;
    body?: string | Uint8Array;
    /** Source address: any of 127.0.0.0/8 is loopback, so each test "host" can have its own. */
    localAddress?: string;
  },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method: options.method ?? "POST",
        path: options.path ?? "/ImageSynapse",
        agent: false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = String(v);
          resolve({ status: res.statusCode ?? 0, headers, body, json: () => JSON.parse(body) });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    for (const [k, v] of Object.entries(options.headers)) if (v !== undefined) req.setHeader(k, v);
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}

/** Writes raw bytes on a TCP socket and collects whatever comes back until close or `waitMs`. */
export function rawSocket(
  port: number,
  write: (socket: import("node:net").Socket) => void,
  waitMs = 3_000,
  localAddress = "127.0.0.1",
  /** Stop waiting (closed: false) as soon as what came back satisfies this. */
  until?: (text: string) => boolean,
): Promise<{ text: string; closed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ port, host: "127.0.0.1", localAddress });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      if (until?.(Buffer.concat(chunks).toString("latin1"))) finish(false);
    });
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
    socket.on("connect", () => write(socket));
  });
}

/** A synthetic street-like scene: sky, road, and optionally orange work-zone blobs; JPEG q75 like validators send. */
export async function sceneJpeg(seed: number, size = 224, options: { orange?: boolean; quality?: number } = {}) {
  const raw = scenePixels(seed, size, options.orange ?? seed % 2 === 0);
  return new Uint8Array(
    await sharp(raw, { raw: { width: size, height: size, channels: 3 } })
      .jpeg({ quality: options.quality ?? 75 })
      .toBuffer(),
  );
}

export function scenePixels(seed: number, size: number, orange: boolean): Buffer {
  let s = seed * 2654435761;
  const rand = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const px = Buffer.alloc(size * size * 3);
  const horizon = Math.floor(size * (0.35 + rand() * 0.2));
  const blobs = orange
    ? Array.from({ length: 3 + Math.floor(rand() * 4) }, () => ({
        x: rand() * size,
        y: horizon + rand() * (size - horizon),
        r: 6 + rand() * size * 0.08,
      }))
    : [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      const n = (rand() - 0.5) * 30;
      let rgb: [number, number, number] =
        y < horizon ? [110 + n, 150 + n, 210 + n] : [90 + n + (y - horizon) * 0.2, 90 + n, 95 + n];
      for (const b of blobs) if ((x - b.x) ** 2 + (y - b.y) ** 2 < b.r ** 2) rgb = [240 + n / 3, 120 + n, 20];
      px[i] = clamp(rgb[0]);
      px[i + 1] = clamp(rgb[1]);
      px[i + 2] = clamp(rgb[2]);
    }
  }
  return px;
}

const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
