import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProtocolError, parseRequestHeaders } from "../src/index.ts";

const A_VALID: Record<string, string> = {
  name: "ImageSynapse",
  timeout: "9.0",
  bt_header_axon_ip: "198.51.100.23",
  bt_header_axon_port: "8091",
  bt_header_axon_hotkey: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
  bt_header_dendrite_ip: "203.0.113.7",
  bt_header_dendrite_version: "9012002",
  bt_header_dendrite_nonce: "1767225600000000000",
  bt_header_dendrite_uuid: "5ecbd69c-1cec-11ee-b0dc-e29ce36fec1a",
  bt_header_dendrite_hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
  bt_header_dendrite_signature: `0x${"ab".repeat(64)}`,
  header_size: "640",
  total_size: "4096",
  computed_body_hash: "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
};

const parse = (h: Record<string, string>) => parseRequestHeaders((n) => h[n]);
const rejection = (h: Record<string, string>) => {
  try {
    parse(h);
    return "ok";
  } catch (e) {
    assert.ok(e instanceof ProtocolError);
    assert.equal(e.status, 400);
    return e.message;
  }
};

describe("parseRequestHeaders", () => {
  it("reads a validator's headers", () => {
    const h = parse(A_VALID);
    assert.deepEqual(h, {
      name: "ImageSynapse",
      timeout: 9,
      dendrite: {
        hotkey: A_VALID.bt_header_dendrite_hotkey,
        nonce: 1767225600000000000n,
        nonceText: "1767225600000000000",
        uuid: A_VALID.bt_header_dendrite_uuid,
        signature: A_VALID.bt_header_dendrite_signature,
        version: 9012002,
        ip: "203.0.113.7",
      },
      axon: { hotkey: A_VALID.bt_header_axon_hotkey, ip: "198.51.100.23", port: 8091 },
      computedBodyHash: A_VALID.computed_body_hash,
      headerSize: 640,
      totalSize: 4096,
    });
  });

  it("works through a case-insensitive getter (Headers lowercases names)", () => {
    const headers = new Headers({ BT_HEADER_DENDRITE_NONCE: "5", Timeout: "3" });
    const h = parseRequestHeaders((n) => headers.get(n) ?? undefined);
    assert.equal(h.dendrite.nonce, 5n);
    assert.equal(h.timeout, 3);
  });

  it("keeps the nonce text verbatim for the signed message while parsing it like int()", () => {
    const h = parse({ ...A_VALID, bt_header_dendrite_nonce: "1_767_225_600_000_000_000" });
    assert.equal(h.dendrite.nonce, 1767225600000000000n);
    assert.equal(h.dendrite.nonceText, "1_767_225_600_000_000_000");
  });

  it("defaults the timeout to 12 and clamps it to [0, 60]", () => {
    const { timeout: _t, ...noTimeout } = A_VALID;
    assert.equal(parse(noTimeout).timeout, 12);
    for (const [text, v] of [
      ["9", 9],
      [" 9.0 ", 9],
      ["inf", 60],
      ["-inf", 0],
      ["nan", 0],
      ["1e9", 60],
      ["-3", 0],
      ["0.5", 0.5],
    ] as const) {
      assert.equal(parse({ ...A_VALID, timeout: text }).timeout, v, text);
    }
  });

  it("answers 400 naming the header when a cast fails (Python: 500)", () => {
    assert.equal(
      rejection({ ...A_VALID, bt_header_dendrite_nonce: "1e3" }),
      "Invalid header bt_header_dendrite_nonce: not a base-10 integer",
    );
    assert.equal(
      rejection({ ...A_VALID, bt_header_dendrite_nonce: "abc" }).startsWith("Invalid header bt_header_dendrite_nonce"),
      true,
    );
    assert.equal(
      rejection({ ...A_VALID, bt_header_dendrite_version: "200.0" }),
      "Invalid header bt_header_dendrite_version: not a base-10 integer",
    );
    assert.equal(
      rejection({ ...A_VALID, bt_header_axon_port: "NaN" }),
      "Invalid header bt_header_axon_port: not a base-10 integer",
    );
    assert.equal(
      rejection({ ...A_VALID, bt_header_axon_port: "70000" }),
      "Invalid header bt_header_axon_port: out of range [0, 65535]",
    );
    assert.equal(rejection({ ...A_VALID, timeout: "nine" }), "Invalid header timeout: not a number");
    assert.equal(rejection({ ...A_VALID, header_size: "1.5" }), "Invalid header header_size: not a base-10 integer");
    assert.equal(rejection({ ...A_VALID, total_size: "" }), "Invalid header total_size: not a base-10 integer");
  });

  it("refuses absurd lengths", () => {
    assert.equal(
      rejection({ ...A_VALID, bt_header_dendrite_hotkey: "5".repeat(65) }),
      "Invalid header bt_header_dendrite_hotkey: longer than 64 characters",
    );
    assert.match(
      rejection({ ...A_VALID, bt_header_dendrite_uuid: "u".repeat(65) }),
      /bt_header_dendrite_uuid: longer than 64/,
    );
    assert.match(
      rejection({ ...A_VALID, bt_header_dendrite_signature: `0x${"a".repeat(299)}` }),
      /signature: longer than 300/,
    );
    assert.match(rejection({ ...A_VALID, bt_header_dendrite_nonce: "1".repeat(65) }), /nonce: longer than 64/);
    assert.equal(rejection({ ...A_VALID, bt_header_dendrite_signature: `0x${"a".repeat(298)}` }), "ok");
  });

  it("leaves absent headers absent", () => {
    const h = parse({});
    assert.deepEqual(h, { timeout: 12, dendrite: {}, axon: {} });
  });
});
