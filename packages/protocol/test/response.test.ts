import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  AXON_VERSION,
  EMPTY_BODY_HASH,
  errorResponse,
  ProtocolError,
  ProtocolErrorWithBody,
  parseRequestHeaders,
  parseSynapseBody,
  protocolErrorResponse,
  readSynapseResponse,
  sanitizeHeaderValue,
  successResponse,
} from "../src/index.ts";

const fixture = JSON.parse(readFileSync(new URL("./fixtures/axon-requests.json", import.meta.url), "utf8"));
const A = fixture.vectors[0];
const BOB = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";

describe("successResponse", () => {
  const body = parseSynapseBody(A.body_raw, "application/json");
  const res = successResponse({ body, prediction: 0.87, processTimeS: 0.0123, axon: { hotkey: BOB } });

  it("sends Python's headers, lowercase, in to_headers order", () => {
    assert.equal(res.status, 200);
    const bodyBytes = Buffer.byteLength(res.body);
    assert.deepEqual(Object.keys(res.headers), [
      "name",
      "timeout",
      "bt_header_axon_status_code",
      "bt_header_axon_status_message",
      "bt_header_axon_process_time",
      "bt_header_axon_ip",
      "bt_header_axon_port",
      "bt_header_axon_hotkey",
      "bt_header_dendrite_ip",
      "bt_header_dendrite_version",
      "bt_header_dendrite_nonce",
      "bt_header_dendrite_uuid",
      "bt_header_dendrite_hotkey",
      "bt_header_dendrite_signature",
      "header_size",
      "total_size",
      "computed_body_hash",
      "content-type",
    ]);
    assert.deepEqual(
      { ...res.headers, header_size: "x" },
      {
        name: "ImageSynapse",
        timeout: "9.0",
        bt_header_axon_status_code: "200",
        bt_header_axon_status_message: "Success",
        bt_header_axon_process_time: "0.0123",
        bt_header_axon_ip: "198.51.100.23",
        bt_header_axon_port: "8091",
        bt_header_axon_hotkey: BOB,
        bt_header_dendrite_ip: "203.0.113.7",
        bt_header_dendrite_version: "9012002",
        bt_header_dendrite_nonce: "1767225600000000000",
        bt_header_dendrite_uuid: "5ecbd69c-1cec-11ee-b0dc-e29ce36fec1a",
        bt_header_dendrite_hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
        bt_header_dendrite_signature: A.headers.bt_header_dendrite_signature,
        header_size: "x",
        total_size: String(bodyBytes),
        computed_body_hash: EMPTY_BODY_HASH,
        "content-type": "application/json",
      },
    );
    assert.match(res.headers.header_size!, /^\d+$/);
  });

  it("echoes the body with image emptied, our prediction and axon status", () => {
    const expected = A.body_raw
      .replaceAll(", ", ",")
      .replaceAll(": ", ":")
      .replace(/"image":"[^"]*"/, '"image":""')
      .replace('"prediction":-1.0', '"prediction":0.87')
      .replace(
        /"axon":\{[^}]*\}/,
        `"axon":{"status_code":200,"status_message":"Success","process_time":0.0123,"ip":"198.51.100.23","port":8091,"version":null,"nonce":null,"uuid":null,"hotkey":"${BOB}","signature":null}`,
      );
    assert.equal(res.body, expected);
    assert.ok(res.body.includes('"nonce":1767225600000000000,'), "big nonce echoed exactly");
  });

  it("a Python dendrite would read the prediction and status from it", () => {
    assert.deepEqual(readSynapseResponse(200, res.headers, res.body), {
      status: 200,
      prediction: 0.87,
      statusMessage: "Success",
    });
  });

  it("keeps unknown fields, fills absent ones with defaults and never sends null where pydantic forbids it", () => {
    const b = parseSynapseBody('{"image": "AAEC", "custom": [1, 18446744073709551617]}', undefined);
    const r = successResponse({
      body: b,
      prediction: 1e-7,
      processTimeS: Number.NaN,
      axon: { hotkey: BOB, ip: "10.0.0.1", port: 8091 },
    });
    assert.equal(
      r.body,
      `{"name":"ImageSynapse","timeout":12.0,"total_size":0,"header_size":0,"dendrite":{"status_code":null,"status_message":null,"process_time":null,"ip":null,"port":null,"version":null,"nonce":null,"uuid":null,"hotkey":null,"signature":null},"axon":{"status_code":200,"status_message":"Success","process_time":0.0,"ip":"10.0.0.1","port":8091,"version":null,"nonce":null,"uuid":null,"hotkey":"${BOB}","signature":null},"computed_body_hash":"","testnet_label":-1,"image":"","prediction":1e-07,"custom":[1,18446744073709551617]}`,
    );
    assert.equal(r.headers.timeout, "12.0");
    assert.equal(r.headers.bt_header_axon_process_time, "0.0");
    assert.equal(r.headers.bt_header_dendrite_nonce, undefined);
  });

  it("normalizes lax dendrite values to plain decimal in headers", () => {
    const b = parseSynapseBody(
      '{"dendrite": {"version": "9012002", "nonce": 5.0, "port": null, "process_time": "0.5"}}',
      undefined,
    );
    const r = successResponse({ body: b, prediction: 0.1, processTimeS: 1, axon: { hotkey: BOB } });
    assert.equal(r.headers.bt_header_dendrite_version, "9012002");
    assert.equal(r.headers.bt_header_dendrite_nonce, "5");
    assert.equal(r.headers.bt_header_dendrite_process_time, "0.5");
    assert.equal(r.headers.bt_header_dendrite_port, undefined);
  });

  it("refuses a non-finite prediction", () => {
    for (const p of [Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => successResponse({ body, prediction: p, processTimeS: 0, axon: { hotkey: BOB } }), RangeError);
    }
  });
});

describe("errorResponse", () => {
  it("without request context answers like a bare Synapse()", () => {
    const r = errorResponse(404, "Synapse name 'Foo' not found. Available synapses ['Synapse', 'ImageSynapse']");
    assert.equal(r.status, 404);
    assert.equal(r.body, `{"message":"Synapse name 'Foo' not found. Available synapses ['Synapse', 'ImageSynapse']"}`);
    assert.deepEqual(Object.keys(r.headers), [
      "name",
      "timeout",
      "bt_header_axon_status_code",
      "bt_header_axon_status_message",
      "bt_header_axon_process_time",
      "header_size",
      "total_size",
      "computed_body_hash",
      "content-type",
    ]);
    assert.equal(r.headers.name, "Synapse");
    assert.equal(r.headers.timeout, "12.0");
    assert.equal(r.headers.bt_header_axon_status_code, "404");
    assert.equal(r.headers.bt_header_axon_process_time, "0.0");
  });

  it("echoes the parsed request headers with the dendrite ip/port taken from the TCP peer", () => {
    const request = parseRequestHeaders((n) => A.headers[n]);
    const message = "Not Verified with error: Nonce is too old, a newer one was last processed";
    const r = errorResponse(401, message, {
      request,
      peer: { ip: "192.0.2.9", port: 50123 },
      axonHotkey: BOB,
      processTimeS: 0.002,
    });
    assert.deepEqual(r.headers, {
      name: "ImageSynapse",
      timeout: "9.0",
      bt_header_axon_status_code: "401",
      bt_header_axon_status_message: message,
      bt_header_axon_process_time: "0.002",
      bt_header_axon_ip: "198.51.100.23",
      bt_header_axon_port: "8091",
      bt_header_axon_version: String(AXON_VERSION),
      bt_header_axon_hotkey: BOB,
      bt_header_dendrite_ip: "192.0.2.9",
      bt_header_dendrite_port: "50123",
      bt_header_dendrite_version: "9012002",
      bt_header_dendrite_nonce: "1767225600000000000",
      bt_header_dendrite_uuid: "5ecbd69c-1cec-11ee-b0dc-e29ce36fec1a",
      bt_header_dendrite_hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
      bt_header_dendrite_signature: A.headers.bt_header_dendrite_signature,
      header_size: r.headers.header_size,
      total_size: String(Buffer.byteLength(r.body)),
      computed_body_hash: EMPTY_BODY_HASH,
      "content-type": "application/json",
    });
    assert.deepEqual(JSON.parse(r.body), { message });
    assert.deepEqual(readSynapseResponse(401, r.headers, r.body), {
      status: 401,
      prediction: -1,
      statusMessage: message,
    });
  });

  it("sanitizes header values but keeps the body message intact", () => {
    const r = errorResponse(500, "boom\r\nX-Injected: 1\u2603");
    assert.equal(r.headers.bt_header_axon_status_message, "boom??X-Injected: 1?");
    assert.equal(JSON.parse(r.body).message, "boom\r\nX-Injected: 1\u2603");
    for (const v of Object.values(r.headers)) assert.match(v, /^[\x20-\x7e\xa0-\xff]*$/);
  });

  it("sanitizeHeaderValue bounds length and keeps Latin-1", () => {
    assert.equal(sanitizeHeaderValue("a".repeat(5000)).length, 1024);
    assert.equal(sanitizeHeaderValue("café\t"), "café?");
    assert.equal(sanitizeHeaderValue("x\u0000y\u007f"), "x?y?");
  });

  it("protocolErrorResponse sends FastAPI's bare 422 without bt headers", () => {
    const e = new ProtocolErrorWithBody(422, "JSON decode error", '{"detail":[]}');
    assert.deepEqual(protocolErrorResponse(e), {
      status: 422,
      headers: { "content-type": "application/json" },
      body: '{"detail":[]}',
    });
    const p = protocolErrorResponse(new ProtocolError(400, "bad"));
    assert.equal(p.headers.bt_header_axon_status_code, "400");
    assert.equal(p.body, '{"message":"bad"}');
  });
});
