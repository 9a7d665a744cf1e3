import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Keyring } from "@polkadot/keyring";
import {
  checkBodyHash,
  Dendrite,
  decodeImageField,
  ensureCryptoReady,
  NonceStore,
  ProtocolError,
  parseRequestHeaders,
  parseSynapseBody,
  protocolErrorResponse,
  readSynapseResponse,
  successResponse,
  uuid1,
  verifyRequest,
  verifySignature,
} from "../src/index.ts";

const fixture = JSON.parse(readFileSync(new URL("./fixtures/axon-requests.json", import.meta.url), "utf8"));
const A = fixture.vectors.find((v: { id: string }) => v.id === "a_valid");
const IMAGE_B64: string = JSON.parse(A.body_raw).image;

describe("Dendrite.buildRequest", () => {
  let alice: ReturnType<Keyring["addFromUri"]>;
  before(async () => {
    await ensureCryptoReady();
    alice = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri("//Alice");
  });

  it("is byte-compatible with bittensor's Dendrite.call (vector a_valid)", () => {
    const d = new Dendrite({
      signer: alice,
      uuid: fixture.constants.dendrite_uuid,
      version: 9012002,
      externalIp: "203.0.113.7",
    });
    const req = d.buildRequest({
      axon: { ip: "198.51.100.23", port: 8091, hotkey: A.axon_hotkey_ss58 },
      image: Buffer.from(IMAGE_B64, "base64"),
      timeout: 9,
      nonceNs: BigInt(fixture.constants.nonce_ns),
      headerSize: 640,
      totalSize: 4096,
    });
    const { "content-length": _len, ...expectedHeaders } = A.headers as Record<string, string>;
    assert.deepEqual(Object.keys(req.headers), Object.keys(expectedHeaders), "header set and order");
    const sig = req.headers.bt_header_dendrite_signature!;
    assert.deepEqual(
      { ...req.headers, bt_header_dendrite_signature: "" },
      { ...expectedHeaders, bt_header_dendrite_signature: "" },
    );
    // sr25519 is randomized: the signature differs from the vector's but must verify over the same message.
    assert.match(sig, /^0x[0-9a-f]{128}$/);
    assert.equal(req.signedMessage, A.signed_message);
    assert.equal(verifySignature(A.signed_message, sig, alice.address), true);
    assert.equal(req.body, A.body_raw.replace(A.headers.bt_header_dendrite_signature, sig), "body byte for byte");
    assert.equal(req.url, "http://198.51.100.23:8091/ImageSynapse");
  });

  it("produces requests a strict axon accepts", () => {
    const d = new Dendrite({ signer: alice });
    const req = d.buildRequest({ axon: { ip: "127.0.0.1", port: 1, hotkey: A.axon_hotkey_ss58 }, image: IMAGE_B64 });
    const h = parseRequestHeaders((n) => req.headers[n]);
    verifyRequest(h, {
      selfHotkey: A.axon_hotkey_ss58,
      nowNs: BigInt(Date.now()) * 1_000_000n,
      nonces: new NonceStore(),
    });
    const body = parseSynapseBody(req.body, req.headers["content-type"]);
    checkBodyHash(h.computedBodyHash, body);
    assert.equal(Buffer.from(decodeImageField(body)).toString("base64"), IMAGE_B64);
    assert.equal(req.headers.total_size, String(Buffer.byteLength(req.body)), "total_size is the body's own length");
    assert.equal(JSON.parse(req.body).total_size, Buffer.byteLength(req.body));
  });

  it("issues strictly increasing nonces, even within one millisecond", () => {
    const d = new Dendrite({ signer: alice });
    const nonces = Array.from({ length: 1000 }, () => d.nextNonce());
    for (let i = 1; i < nonces.length; i++) assert.ok(nonces[i]! > nonces[i - 1]!);
    const fixed = d.buildRequest({
      axon: { ip: "::1", port: 8091, hotkey: A.axon_hotkey_ss58 },
      image: "AAEC",
      nonceNs: nonces.at(-1)! + 10n ** 15n,
    });
    assert.equal(d.nextNonce(), fixed.nonceNs + 1n);
    assert.equal(fixed.url, "http://[::1]:8091/ImageSynapse");
  });

  it("extraBody replaces fields in place and appends new ones", () => {
    const d = new Dendrite({ signer: alice, uuid: "u" });
    const req = d.buildRequest({
      axon: { ip: "127.0.0.1", port: 1, hotkey: A.axon_hotkey_ss58 },
      image: "AAEC",
      extraBody: { testnet_label: 1, note: "é", big: 18446744073709551617n },
    });
    assert.match(
      req.body,
      /"testnet_label": 1, "image": "AAEC", "prediction": -1.0, "note": "\\u00e9", "big": 18446744073709551617\}$/,
    );
  });

  it("uuid1 looks like Python's str(uuid.uuid1())", () => {
    const u = uuid1();
    assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(uuid1(), u);
  });
});

describe("readSynapseResponse (bittensor process_server_response)", () => {
  const ok = '{"prediction":0.9,"axon":{"status_code":200,"status_message":"Success"}}';
  const json = { "content-type": "application/json" };
  it("reads a prediction from a JSON 200 and lets headers override the status", () => {
    assert.deepEqual(readSynapseResponse(200, json, ok), { status: 200, prediction: 0.9, statusMessage: "Success" });
    assert.deepEqual(
      readSynapseResponse(200, { "content-type": "application/problem+json; charset=utf-8" }, ok).prediction,
      0.9,
    );
    assert.deepEqual(
      readSynapseResponse(200, { ...json, bt_header_axon_status_code: "500", bt_header_axon_status_message: "x" }, ok),
      {
        status: 500,
        prediction: 0.9,
        statusMessage: "x",
      },
    );
    assert.deepEqual(readSynapseResponse(200, json, '{"prediction":"0.25"}'), {
      status: 200,
      prediction: 0.25,
      statusMessage: null,
    });
    assert.equal(readSynapseResponse(200, json, "{}").prediction, -1);
  });
  it("gives -1 and 422 for what aiohttp/pydantic refuse", () => {
    const fail = (status: number, headers: Record<string, string>, body: string) => {
      const r = readSynapseResponse(status, headers, body);
      assert.equal(r.status, 422, body);
      assert.equal(r.prediction, -1, body);
      assert.match(r.statusMessage!, /^Failed to parse response: /);
    };
    fail(200, { "content-type": "text/plain" }, ok);
    fail(200, {}, ok);
    fail(200, { "content-type": "text/html" }, "<html>");
    fail(200, json, "not json");
    fail(200, json, "");
    fail(200, json, "[0.9]");
    fail(200, json, '{"prediction":null}');
    fail(200, json, '{"prediction":0.9,"image":null}');
    fail(200, json, '{"prediction":0.9,"dendrite":null}');
    fail(200, json, '{"prediction":NaN}');
    fail(500, { "content-type": "text/plain" }, "Internal Server Error");
    fail(401, json, "");
  });
  it("reads an error status and message", () => {
    assert.deepEqual(readSynapseResponse(403, json, '{"message":"Forbidden. Key is blacklisted: x."}'), {
      status: 403,
      prediction: -1,
      statusMessage: "Forbidden. Key is blacklisted: x.",
    });
  });
  it("a bad header cast after a good body is 422 but keeps the copied prediction, as in Python", () => {
    assert.deepEqual(readSynapseResponse(200, { ...json, bt_header_axon_status_code: "200.0" }, ok).prediction, 0.9);
    assert.equal(readSynapseResponse(200, { ...json, bt_header_axon_status_code: "200.0" }, ok).status, 422);
  });
});

describe("Dendrite.query over HTTP", () => {
  let server: Server;
  let port: number;
  let bob: ReturnType<Keyring["addFromUri"]>;
  let alice: ReturnType<Keyring["addFromUri"]>;
  let mode = "axon";
  const nonces = new NonceStore();

  // A minimal axon built from this package's stages, so the round trip exercises both ends over real HTTP.
  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const send = (r: { status: number; headers: Record<string, string>; body: string }) => {
      res.writeHead(r.status, r.headers).end(r.body);
    };
    if (mode === "text") return void res.writeHead(200, { "content-type": "text/plain" }).end('{"prediction":0.7}');
    if (mode === "slow") return void setTimeout(() => res.writeHead(200).end(), 2000);
    if (mode === "null")
      return void res.writeHead(200, { "content-type": "application/json" }).end('{"prediction":null}');
    const h = parseRequestHeaders((n) => {
      const v = req.headers[n];
      return Array.isArray(v) ? v.join(", ") : v;
    });
    try {
      verifyRequest(h, { selfHotkey: bob.address, nowNs: BigInt(Date.now()) * 1_000_000n, nonces });
      const body = parseSynapseBody(raw, req.headers["content-type"]);
      checkBodyHash(h.computedBodyHash, body);
      decodeImageField(body);
      send(successResponse({ body, prediction: 0.625, processTimeS: 0.001, axon: { hotkey: bob.address } }));
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      send(
        protocolErrorResponse(e, {
          request: h,
          peer: { ip: req.socket.remoteAddress!, port: req.socket.remotePort! },
          axonHotkey: bob.address,
        }),
      );
    }
  }

  before(async () => {
    await ensureCryptoReady();
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    alice = keyring.addFromUri("//Alice");
    bob = keyring.addFromUri("//Bob");
    server = createServer((req, res) => void handle(req, res));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it("gets the axon's prediction, and a replay is refused with 401", async () => {
    mode = "axon";
    const d = new Dendrite({ signer: alice });
    const req = d.buildRequest({ axon: { ip: "127.0.0.1", port, hotkey: bob.address }, image: IMAGE_B64 });
    const r = await d.query(req);
    assert.equal(r.status, 200);
    assert.equal(r.prediction, 0.625);
    assert.equal(r.statusMessage, "Success");
    assert.ok(r.roundTripMs > 0);
    assert.equal(r.headers.bt_header_dendrite_nonce, req.nonceNs.toString());
    const replay = await d.query(req);
    assert.deepEqual(
      [replay.status, replay.prediction, replay.statusMessage],
      [401, -1, "Not Verified with error: Nonce is too old, a newer one was last processed"],
    );
  });

  it("a request signed for another axon gets 401 and -1", async () => {
    mode = "axon";
    const d = new Dendrite({ signer: alice });
    const r = await d.call({ axon: { ip: "127.0.0.1", port, hotkey: alice.address }, image: IMAGE_B64 });
    assert.equal(r.status, 401);
    assert.equal(r.prediction, -1);
    assert.match(r.statusMessage!, /^Not Verified with error: Signature mismatch with /);
  });

  it("non-JSON content type and null prediction read as -1 with 422", async () => {
    const d = new Dendrite({ signer: alice });
    for (const m of ["text", "null"]) {
      mode = m;
      const r = await d.call({ axon: { ip: "127.0.0.1", port, hotkey: bob.address }, image: IMAGE_B64 });
      assert.equal(r.status, 422, m);
      assert.equal(r.prediction, -1, m);
    }
  });

  it("times out with 408 and reports a refused connection as 503", async () => {
    mode = "slow";
    const d = new Dendrite({ signer: alice });
    const slow = await d.call({ axon: { ip: "127.0.0.1", port, hotkey: bob.address }, image: IMAGE_B64, timeout: 0.2 });
    assert.deepEqual(
      [slow.status, slow.prediction, slow.statusMessage],
      [408, -1, "Request timeout after 0.2 seconds"],
    );
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await d.call({ axon: { ip: "127.0.0.1", port: deadPort, hotkey: bob.address }, image: IMAGE_B64 });
    assert.deepEqual([refused.status, refused.prediction], [503, -1]);
    assert.equal(refused.statusMessage, `Service unavailable at 127.0.0.1:${deadPort}/ImageSynapse`);
  });
});
