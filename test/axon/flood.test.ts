// Floods and large frames over real HTTP, with attackers on their own loopback addresses (127.0.0.0/8 is loopback):
// per-address connection, pipelining, pre-auth and failure budgets, absolute header deadlines, the signature check
// inside the deadline, the fast lane, rate-limit refunds, the pixel budget and multi-MiB frames. Every assertion is
// about behaviour, with budgets of seconds where time matters at all: the machine running this may be loaded.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Scorer } from "@roadwork/inference";
import type { PredictionRecord } from "@roadwork/miner";
import { inlineSignatureVerifier, type SignatureVerifier } from "@roadwork/protocol";
import sharp from "sharp";
import {
  dendriteFor,
  devKeys,
  metagraphOf,
  neuron,
  rawPost,
  rawSocket,
  realScorer,
  sceneJpeg,
  sleep,
  startTestAxon,
  type TestAxon,
} from "./harness.ts";

const FORGED = `0x${"ab".repeat(64)}`;

describe("axon under floods", () => {
  let keys: Awaited<ReturnType<typeof devKeys>>;
  let scorer: Scorer;
  let cleanup: () => Promise<void>;
  let jpeg: Uint8Array;

  before(async () => {
    keys = await devKeys();
    ({ scorer, cleanup } = await realScorer());
    jpeg = await sceneJpeg(5);
  });
  after(async () => cleanup());

  const metagraph = () =>
    metagraphOf([neuron(0, keys.alice, 1000, true), neuron(1, keys.charlie, 500, true), neuron(2, keys.bob, 1, false)]);

  const start = (
    config: Parameters<typeof startTestAxon>[0]["config"] = {},
    extra: Partial<Parameters<typeof startTestAxon>[0]> = {},
  ) =>
    startTestAxon({
      scorer,
      hotkey: keys.bob.address,
      metagraph: metagraph(),
      config: { maxTimeoutS: 120, signatureVerification: "inline", ...config },
      ...extra,
    });

  const target = (axon: TestAxon) => ({ ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address });

  /** An honest signed request from `from` (its own loopback address). */
  const honest = (axon: TestAxon, from = "127.0.0.1", who = keys.alice) => {
    const req = dendriteFor(who).buildRequest({ axon: target(axon), image: jpeg, timeout: 60 });
    return rawPost(axon.port, { headers: req.headers, body: req.body, localAddress: from });
  };

  /** Raw HTTP bytes of a request claiming `who` with a signature that cannot verify (or a stranger's, signed). */
  const wire = (axon: TestAxon, kind: "forged" | "unregistered", small = false) => {
    const who = kind === "forged" ? keys.alice : keys.stranger;
    const req = dendriteFor(who).buildRequest({ axon: target(axon), image: jpeg, timeout: 60 });
    const headers: Record<string, string> = { ...(req.headers as Record<string, string>) };
    if (kind === "forged") headers.bt_header_dendrite_signature = FORGED;
    // Node parses pipelined requests ahead only while their bodies fit its buffers; small ones all arrive at once.
    const body = Buffer.from(small ? '{"image":"AAEC"}' : req.body);
    const lines = ["POST /ImageSynapse HTTP/1.1", "host: 127.0.0.1", `content-length: ${body.length}`];
    for (const [k, v] of Object.entries(headers)) if (k !== "content-length") lines.push(`${k}: ${v}`);
    return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`), body]);
  };

  /** A whole error answer arrived (its JSON body is one line). */
  const answeredOnce = (text: string) => /\r\n\r\n\{"message":.*\}$/s.test(text);
  const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

  test("per-address connection budget: a flood of sockets from one address is closed at accept; others get in", async () => {
    const axon = await start({ admission: { maxConnectionsPerAddress: 4 } });
    try {
      const held = await Promise.all(
        Array.from({ length: 12 }, () => rawSocket(axon.port, () => {}, 1_500, "127.0.0.2")),
      );
      // Four stay open (until our wait ends); the other eight are closed by the server without a byte.
      assert.equal(held.filter((r) => !r.closed).length, 4);
      assert.ok(held.filter((r) => r.closed).every((r) => r.text === ""));
      assert.equal((await honest(axon)).status, 200);
    } finally {
      await axon.close();
    }
  });

  test("connections over the budget are refused at accept, before the server makes a socket of them", async () => {
    const axon = await start({ admission: { maxConnectionsPerAddress: 4 } });
    let sockets = 0;
    axon.running.server.on("connection", () => sockets++);
    try {
      const held = await Promise.all(
        Array.from({ length: 12 }, () => rawSocket(axon.port, () => {}, 1_000, "127.0.0.2")),
      );
      assert.equal(held.filter((r) => r.closed).length, 8);
      assert.equal(sockets, 4, "only the admitted connections became sockets");
      assert.equal(axon.axon.admission.shedCounts().get("address_connections"), 8);
    } finally {
      await axon.close();
    }
  });

  test("slow headers: a connection trickling bytes is destroyed at the absolute header deadline", async () => {
    const axon = await start({ admission: { headersDeadlineMs: 1_000 } });
    try {
      const head = Buffer.from("POST /ImageSynapse HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n");
      const r = await rawSocket(
        axon.port,
        (s) => {
          let i = 0;
          const t = setInterval(() => {
            if (s.destroyed || i >= head.length) return clearInterval(t);
            s.write(head.subarray(i, i + 1)); // a byte every 100 ms: each one would reset an idle timer
            i++;
          }, 100);
        },
        20_000,
        "127.0.0.3",
      );
      // Trickling the whole head would take 7.7 s; the deadline counts from the first byte and cannot be stretched.
      assert.ok(r.closed, "still open");
      assert.ok(r.ms >= 900 && r.ms < 7_000, `closed after ${r.ms.toFixed(0)} ms`);
      assert.equal(r.text, "");
      assert.equal((await honest(axon)).status, 200);
      for (let i = 0; i < 40 && axon.axon.admission.connections > 0; i++) await sleep(50);
      assert.equal(axon.axon.admission.connections, 0, "a destroyed socket must not keep counting");
    } finally {
      await axon.close();
    }
  });

  test("pipelining: a burst of failing requests on one connection is cut off, not answered one by one", async () => {
    // Node hands this listener pipelined requests one at a time (the cap on requests in flight per connection,
    // admission.maxPipelined, is a backstop); what stops the flood is the address's failure budget.
    const axon = await start({ admission: { maxPipelined: 2, failureBurst: 3, failureRefillPerSecond: 0.01 } });
    try {
      const burst = Buffer.concat(Array.from({ length: 40 }, () => wire(axon, "unregistered", true)));
      const r = await rawSocket(axon.port, (s) => s.write(burst), 20_000, "127.0.0.4");
      assert.ok(r.closed);
      const answered = statuses(r.text);
      assert.ok(answered.length <= 4, `answered ${answered.length} of 40`);
      assert.ok(answered.every((s) => s === 403));
      assert.equal((await honest(axon)).status, 200);
    } finally {
      await axon.close();
    }
  });

  test("failure budget: unregistered and forged requests get answers, then the address is shed", async () => {
    const axon = await start({ admission: { failureBurst: 4, failureRefillPerSecond: 0.01, shedForS: 60 } });
    try {
      const answered: number[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await rawSocket(
          axon.port,
          (s) => s.write(wire(axon, i % 2 ? "forged" : "unregistered")),
          20_000,
          "127.0.0.5",
          answeredOnce,
        );
        answered.push(...statuses(r.text));
      }
      assert.deepEqual(answered, [403, 401, 403, 401]);
      // Over budget: the next request is not answered, its connection is closed, and so are new ones.
      const shed = await rawSocket(axon.port, (s) => s.write(wire(axon, "forged")), 10_000, "127.0.0.5");
      assert.ok(shed.closed);
      assert.equal(shed.text, "");
      const refused = await rawSocket(axon.port, () => {}, 10_000, "127.0.0.5");
      assert.ok(refused.closed && refused.text === "");
      // Another address, honest, is served; the shed address is counted.
      assert.equal((await honest(axon, "127.0.0.6")).status, 200);
      assert.ok((axon.axon.admission.shedCounts().get("failures") ?? 0) >= 2);
    } finally {
      await axon.close();
    }
  });

  test("pre-auth budget and the signature check inside the deadline: stuck checks end in 408, extras are shed", async () => {
    // Forged signatures take forever to check (a stalled pool); honest ones are checked at once.
    const stuck: SignatureVerifier = {
      verify: (m, sig, pk) =>
        Buffer.from(sig).toString("hex") === FORGED.slice(2)
          ? new Promise<boolean>(() => {})
          : inlineSignatureVerifier.verify(m, sig, pk),
    };
    const axon = await start(
      { admission: { maxPreAuthPerAddress: 2, failureBurst: 1000 } },
      { signatureVerifier: stuck },
    );
    try {
      const send = () => {
        const req = dendriteFor(keys.alice).buildRequest({ axon: target(axon), image: jpeg, timeout: 1 });
        const headers = { ...req.headers, bt_header_dendrite_signature: FORGED };
        const started = performance.now();
        return rawPost(axon.port, { headers, body: req.body, localAddress: "127.0.0.7" }).then(
          (r) => ({ status: r.status, ms: performance.now() - started }),
          () => ({ status: 0, ms: performance.now() - started }),
        );
      };
      const first = [send(), send()];
      await sleep(200);
      const extra = await send(); // a third unverified request from the same address: closed, not queued
      assert.equal(extra.status, 0);
      for (const r of await Promise.all(first)) {
        assert.equal(r.status, 408); // the check never finished; the deadline (1 s) answered
        assert.ok(r.ms < 8_000, `after ${r.ms.toFixed(0)} ms`);
      }
      assert.equal((await honest(axon)).status, 200);
    } finally {
      await axon.close();
    }
  });

  test("fast lane: a forged request from a validator's own address never gets a prediction", async () => {
    const records: PredictionRecord[] = [];
    const axon = await start({}, { onPrediction: (r) => void records.push(r) });
    try {
      assert.equal((await honest(axon, "127.0.0.8")).status, 200);
      assert.ok(axon.axon.admission.hasFastLane("127.0.0.8", keys.alice.address));
      // Same address, same claimed hotkey, bad signature: decoding and scoring may start beside the check, but the
      // answer is 401 and no prediction leaves the axon.
      const r = await rawSocket(axon.port, (s) => s.write(wire(axon, "forged")), 20_000, "127.0.0.8", answeredOnce);
      assert.deepEqual(statuses(r.text), [401]);
      assert.doesNotMatch(r.text, /"prediction"/);
      await sleep(100);
      assert.equal(records.length, 1);
      assert.equal((await honest(axon, "127.0.0.8")).status, 200);
    } finally {
      await axon.close();
    }
  });

  test("rate limit charges only served requests: 408s give their token back", async () => {
    let hold = true;
    const slow: Scorer = {
      get modelVersion() {
        return scorer.modelVersion;
      },
      async score(image, options) {
        if (hold) await sleep(3_000);
        return scorer.score(image, options);
      },
      close: () => Promise.resolve(),
    };
    const axon = await startTestAxon({
      scorer: slow,
      hotkey: keys.bob.address,
      metagraph: metagraph(),
      config: { maxTimeoutS: 120, rateLimit: { burst: 2, refillPerSecond: 0.001 } },
    });
    try {
      const alice = dendriteFor(keys.alice);
      const call = (timeout: number) => alice.call({ axon: target(axon), image: jpeg, timeout });
      assert.deepEqual(
        (await Promise.all([call(1), call(1)])).map((r) => r.status),
        [408, 408],
      );
      hold = false;
      assert.equal((await call(60)).status, 200);
      assert.equal((await call(60)).status, 200);
      assert.equal((await call(60)).status, 429);
    } finally {
      await axon.close();
    }
  });

  test("decompression budget: an image over the per-request pixel budget is refused from its header", async () => {
    const axon = await start({ pixels: { maxPerImage: 1_000_000, maxInFlight: 2_000_000 } });
    try {
      // A real PNG "bomb" in miniature: 1100x1100 of one colour compresses to a few KB.
      const bomb = await sharp({ create: { width: 1100, height: 1100, channels: 3, background: "#555" } })
        .png({ compressionLevel: 9 })
        .toBuffer();
      assert.ok(bomb.byteLength < 20_000);
      const r = await dendriteFor(keys.alice).call({ axon: target(axon), image: new Uint8Array(bomb), timeout: 60 });
      assert.equal(r.status, 400);
      assert.match(r.statusMessage ?? "", /1100x1100 = 1210000 pixels, more than the 1000000 accepted per request/);
      const fits = await sharp({ create: { width: 900, height: 900, channels: 3, background: "#556" } })
        .png()
        .toBuffer();
      const ok = await dendriteFor(keys.alice).call({ axon: target(axon), image: new Uint8Array(fits), timeout: 60 });
      assert.equal(ok.status, 200, ok.statusMessage ?? "");
    } finally {
      await axon.close();
    }
  });

  test("reordered nonces on one dendrite are both answered; the replay is refused", async () => {
    const axon = await start();
    try {
      const d = dendriteFor(keys.alice);
      const first = d.buildRequest({ axon: target(axon), image: jpeg, timeout: 60 });
      const second = d.buildRequest({ axon: target(axon), image: jpeg, timeout: 60 });
      assert.ok(BigInt(first.nonceNs) < BigInt(second.nonceNs));
      const post = (r: typeof first) => rawPost(axon.port, { headers: r.headers, body: r.body });
      assert.equal((await post(second)).status, 200);
      assert.equal((await post(first)).status, 200);
      const replay = await post(first);
      assert.equal(replay.status, 401);
      assert.match(replay.body, /Nonce is too old, a newer one was last processed/);
    } finally {
      await axon.close();
    }
  });
});

describe("axon with full-resolution frames", () => {
  test("a JPEG of 4 MiB and one near the 8 MiB body cap (base64) are answered 200", async () => {
    const keys = await devKeys();
    const { scorer, cleanup } = await realScorer();
    const records: PredictionRecord[] = [];
    const axon = await startTestAxon({
      scorer,
      hotkey: keys.bob.address,
      metagraph: metagraphOf([neuron(0, keys.alice, 1000, true)]),
      config: { maxTimeoutS: 120 },
      onPrediction: (r) => {
        records.push(r);
      },
    });
    try {
      const target = { ip: "127.0.0.1", port: axon.port, hotkey: keys.bob.address };
      const sent: string[] = [];
      for (const base64Bytes of [4 * 1024 * 1024, 7.5 * 1024 * 1024]) {
        const image = await noisyJpegOfAtLeast((base64Bytes * 3) / 4);
        sent.push(createHash("sha256").update(image).digest("hex"));
        const r = await dendriteFor(keys.alice).call({ axon: target, image, timeout: 120 });
        assert.equal(r.status, 200, `${image.byteLength} bytes: ${r.statusMessage}`);
        assert.ok(r.prediction > 0 && r.prediction < 1);
      }
      // Their records follow the answers (hashed in slices): each carries the frame's own hash.
      for (let i = 0; i < 200 && records.length < 2; i++) await sleep(10);
      assert.deepEqual(
        records.map((r) => r.imageSha256),
        sent,
      );
    } finally {
      await axon.close();
      await cleanup();
    }
  });
});

/** Noise compresses badly, so a dashcam-sized noisy JPEG reaches MiBs; padded with COM segments to the exact size. */
async function noisyJpegOfAtLeast(bytes: number): Promise<Uint8Array> {
  const width = 1920;
  const height = 1080;
  const px = Buffer.alloc(width * height * 3);
  let s = 99;
  for (let i = 0; i < px.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) | 0;
    px[i] = (s >>> 16) & 0xff;
  }
  const jpeg = await sharp(px, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 95 })
    .toBuffer();
  const parts: Buffer[] = [jpeg.subarray(0, 2)];
  let total = jpeg.byteLength;
  while (total < bytes) {
    const n = Math.min(65_533, Math.ceil(bytes - total));
    const seg = Buffer.alloc(4 + n, 0x20);
    seg.writeUInt16BE(0xfffe, 0);
    seg.writeUInt16BE(2 + n, 2);
    parts.push(seg);
    total += seg.byteLength;
  }
  parts.push(jpeg.subarray(2));
  return new Uint8Array(Buffer.concat(parts));
}
