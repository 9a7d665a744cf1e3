import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  checkBodyHash,
  decodeImageField,
  decodeImageFieldSliced,
  EMPTY_BODY_HASH,
  JsonSyntaxError,
  ProtocolError,
  ProtocolErrorWithBody,
  parseJson,
  parseSynapseBody,
  stringifyCompact,
  stringifyPython,
} from "../src/index.ts";

const fixture = JSON.parse(readFileSync(new URL("./fixtures/axon-requests.json", import.meta.url), "utf8"));
const A_BODY: string = fixture.vectors[0].body_raw;

const rejection = (raw: string, ct: string | undefined = "application/json") => {
  try {
    parseSynapseBody(raw, ct);
    return { status: 0, message: "ok" };
  } catch (e) {
    assert.ok(e instanceof ProtocolError);
    return { status: e.status, message: e.message, body: e instanceof ProtocolErrorWithBody ? e.body : undefined };
  }
};

describe("parseJson", () => {
  // [input, CPython 3.11 json.loads error (msg, pos)]
  const ERRORS: [string, string, number][] = [
    ['{"a": 1', "Expecting ',' delimiter", 7],
    ["{a:1}", "Expecting property name enclosed in double quotes", 1],
    ["[1,]", "Expecting value", 3],
    ['{"a":1}x', "Extra data", 7],
    ['"\\x"', "Invalid \\escape", 1],
    ['{"a": "\x01"}', "Invalid control character at", 7],
    ["", "Expecting value", 0],
    ['{"a":1,}', "Expecting property name enclosed in double quotes", 7],
    ['{"a" 1}', "Expecting ':' delimiter", 5],
    ['"abc', "Unterminated string starting at", 0],
    ['"\\u12"', "Invalid \\uXXXX escape", 2],
    ["[1 2]", "Expecting ',' delimiter", 3],
    ["01", "Extra data", 1],
    ["-", "Expecting value", 0],
    ["tru", "Expecting value", 0],
  ];
  for (const [text, msg, pos] of ERRORS) {
    it(`rejects ${JSON.stringify(text)} like json.loads`, () => {
      assert.throws(
        () => parseJson(text),
        (e: unknown) => e instanceof JsonSyntaxError && e.msg === msg && e.pos === pos,
      );
    });
  }

  it("refuses NaN/Infinity literals (json.loads accepts them; JSON does not)", () => {
    for (const t of ["NaN", "Infinity", "-Infinity", '{"p": NaN}']) assert.throws(() => parseJson(t), JsonSyntaxError);
  });

  it("bounds nesting depth instead of overflowing the stack", () => {
    assert.throws(() => parseJson(`${"[".repeat(10_000)}${"]".repeat(10_000)}`), JsonSyntaxError);
  });

  it("round-trips numbers, key order, escapes and unicode exactly", () => {
    const text =
      '{"z":1767225600000000001,"a":-1.0,"b":1e-7,"c":"\\u00e9\\n\\"x\\"","1":[true,false,null],"__proto__":{}}';
    const v = parseJson(text);
    assert.equal(stringifyCompact(v), text.replace("\\u00e9", "é"));
    assert.equal(
      stringifyPython(parseJson('{"s": "é☃😀\\u007f", "n": [1, 2.50]}')),
      '{"s": "\\u00e9\\u2603\\ud83d\\ude00\\u007f", "n": [1, 2.50]}',
    );
  });

  it("keeps the last value of a duplicate key at its first position (Python dict semantics)", () => {
    assert.equal(stringifyCompact(parseJson('{"a":1,"b":2,"a":3}')), '{"a":3,"b":2}');
  });
});

describe("parseSynapseBody", () => {
  it("parses a validator body and exposes the typed view", () => {
    const b = parseSynapseBody(A_BODY, "application/json");
    assert.equal(b.timeout, 9);
    assert.equal(b.testnetLabel, -1);
    assert.ok(b.image.startsWith("/9j/"));
    assert.equal(b.dendrite?.get("hotkey"), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
    assert.equal(stringifyPython(b.fields), A_BODY, "the parsed body re-serializes byte for byte");
  });

  it("accepts JSON content types the way FastAPI does and refuses the rest with 415", () => {
    for (const ct of [
      undefined,
      "",
      "application/json",
      "Application/JSON; charset=utf-8",
      "application/vnd.api+json",
    ]) {
      assert.equal(rejection(A_BODY, ct).status, 0, String(ct));
    }
    for (const ct of ["text/plain", "application/x-www-form-urlencoded", "text/json", "multipart/form-data"]) {
      const r = rejection(A_BODY, ct);
      assert.equal(r.status, 415, ct);
      assert.equal(r.message, `Unsupported content-type ${ct}: send application/json`);
    }
  });

  it("answers FastAPI's 422 json_invalid body for undecodable JSON", () => {
    const r = rejection('{"image": "abc"');
    assert.equal(r.status, 422);
    assert.deepEqual(JSON.parse(r.body!), {
      detail: [
        {
          type: "json_invalid",
          loc: ["body", 15],
          msg: "JSON decode error",
          input: {},
          ctx: { error: "Expecting ',' delimiter" },
        },
      ],
    });
  });

  it("answers 400 for an empty body and for JSON that is not an object", () => {
    assert.deepEqual(rejection(""), {
      status: 400,
      message: "Request body is empty: expected a JSON object",
      body: undefined,
    });
    for (const raw of ["[]", "[1,2]", '"x"', "3", "null", "true"]) {
      assert.deepEqual(
        rejection(raw),
        { status: 400, message: "Request body must be a JSON object", body: undefined },
        raw,
      );
    }
  });

  it("validates field types like pydantic's lax mode, naming the field", () => {
    const with_ = (patch: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(A_BODY), ...patch });
    assert.deepEqual(rejection(with_({ image: null })), {
      status: 400,
      message: "Invalid request body: image: Input should be a valid string",
      body: undefined,
    });
    assert.match(rejection(with_({ prediction: null })).message, /^Invalid request body: prediction: /);
    assert.match(rejection(with_({ testnet_label: null })).message, /^Invalid request body: testnet_label: /);
    assert.match(rejection(with_({ testnet_label: 1.5 })).message, /^Invalid request body: testnet_label: /);
    assert.match(rejection(with_({ image: 123 })).message, /^Invalid request body: image: /);
    assert.match(rejection(with_({ dendrite: null })).message, /^Invalid request body: dendrite: /);
    assert.match(rejection(with_({ axon: "x" })).message, /^Invalid request body: axon: /);
    assert.match(rejection(with_({ dendrite: { port: "eighty" } })).message, /^Invalid request body: dendrite\.port: /);
    assert.match(rejection(with_({ timeout: "soon" })).message, /^Invalid request body: timeout: /);
    // Lax numbers: numeric strings and integral floats pass, as in pydantic.
    assert.equal(rejection(with_({ timeout: "9.5", total_size: 4096.0, testnet_label: "1" })).status, 0);
    // Optional base fields may be null.
    assert.equal(rejection(with_({ timeout: null, name: null, computed_body_hash: null })).status, 0);
    assert.equal(parseSynapseBody(with_({ timeout: null }), undefined).timeout, 12);
  });

  it("keeps unknown fields and big integers verbatim", () => {
    const raw = A_BODY.replace(
      '"prediction": -1.0}',
      '"prediction": -1.0, "extra": {"n": 18446744073709551617, "f": 1.50}}',
    );
    const b = parseSynapseBody(raw, "application/json");
    assert.equal(stringifyPython(b.fields), raw);
    assert.ok(stringifyCompact(b.fields).includes('"nonce":1767225600000000000'));
  });

  it("defaults absent fields like pydantic", () => {
    const b = parseSynapseBody("{}", "application/json");
    assert.equal(b.image, "");
    assert.equal(b.timeout, 12);
    assert.equal(b.testnetLabel, -1);
    assert.equal(b.dendrite, undefined);
  });
});

describe("checkBodyHash", () => {
  const body = parseSynapseBody(A_BODY, "application/json");
  it("accepts the constant ImageSynapse hash and an absent header", () => {
    checkBodyHash(EMPTY_BODY_HASH, body);
    checkBodyHash(undefined, body);
  });
  it("answers 400 Hash mismatch for anything else (Python: 500)", () => {
    assert.throws(
      () => checkBodyHash("abc", body),
      (e: unknown) =>
        e instanceof ProtocolError &&
        e.status === 400 &&
        e.message === `Hash mismatch between header body hash abc and parsed body hash ${EMPTY_BODY_HASH}`,
    );
    assert.throws(() => checkBodyHash("", body), ProtocolError);
  });
});

describe("decodeImageField", () => {
  const bodyWith = (image: string) => parseSynapseBody(JSON.stringify({ image }), "application/json");
  it("decodes standard padded base64", () => {
    const bytes = decodeImageField(parseSynapseBody(A_BODY, "application/json"));
    assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    assert.deepEqual([...decodeImageField(bodyWith("AAE="))], [0, 1]);
    assert.deepEqual([...decodeImageField(bodyWith("AAEC"))], [0, 1, 2]);
    assert.deepEqual([...decodeImageField(bodyWith("+/8="))], [0xfb, 0xff]);
  });
  it("refuses empty and non-canonical base64", () => {
    assert.throws(
      () => decodeImageField(bodyWith("")),
      (e: unknown) => e instanceof ProtocolError && e.message === "image is empty",
    );
    for (const bad of [
      "AAE",
      "AA=E",
      "AAE=\n",
      "AA\nEC",
      "AAEC====",
      "-_8=",
      "AAF=",
      "A",
      "AAE=AAEC",
      "data:image/jpeg;base64,AAEC",
      "AA EC",
    ]) {
      assert.throws(
        () => decodeImageField(bodyWith(bad)),
        (e: unknown) => e instanceof ProtocolError && e.status === 400 && e.message === "image is not valid base64",
        JSON.stringify(bad),
      );
    }
  });
  it("decodes a full-resolution frame's worth (6 MiB) and finds one stray character in it", () => {
    // The former regex overflowed the stack past ~3.2 MiB (HTTP 500) and ran for seconds.
    const raw = Buffer.alloc(6 * 1024 * 1024 + 1);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
    const text = raw.toString("base64");
    assert.deepEqual(Buffer.from(decodeImageField(bodyWith(text))), raw);
    for (const [at, ch] of [
      [text.length >> 1, "!"],
      [7, "="],
      [text.length - 8, "\n"],
      [1_000_000, "-"],
    ] as const) {
      const bad = `${text.slice(0, at)}${ch}${text.slice(at + 1)}`;
      assert.throws(() => decodeImageField(bodyWith(bad)), /image is not valid base64/, `${ch} at ${at}`);
    }
  });
});

describe("decodeImageFieldSliced", () => {
  const bodyWith = (image: string) => parseSynapseBody(JSON.stringify({ image }), "application/json");
  const frame = (size: number) => {
    const raw = Buffer.alloc(size);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
    return raw;
  };
  it("gives decodeImageField's bytes for every length around the slice boundaries", async () => {
    const slice = 16;
    for (let size = 1; size <= 40; size++) {
      const text = frame(size).toString("base64");
      assert.deepEqual(
        Buffer.from(await decodeImageFieldSliced(bodyWith(text), slice)),
        Buffer.from(decodeImageField(bodyWith(text))),
        `size ${size}`,
      );
    }
  });
  it("refuses what decodeImageField refuses, wherever the defect sits", async () => {
    const text = frame(300).toString("base64"); // 400 characters: 25 slices of 16
    for (const [at, ch] of [
      [0, "!"],
      [17, "="],
      [33, "\n"],
      [200, "-"],
      [205, "_"],
      [396, "="],
      [399, " "],
    ] as const) {
      const bad = `${text.slice(0, at)}${ch}${text.slice(at + 1)}`;
      assert.throws(() => decodeImageField(bodyWith(bad)), /image is not valid base64/);
      await assert.rejects(decodeImageFieldSliced(bodyWith(bad), 16), /image is not valid base64/, `${ch} at ${at}`);
    }
    await assert.rejects(decodeImageFieldSliced(bodyWith(`${text}AAE`), 16), /image is not valid base64/);
    await assert.rejects(decodeImageFieldSliced(bodyWith(""), 16), /image is empty/);
  });
  it("lets the event loop turn between slices of a full-resolution frame", async () => {
    const raw = frame(6 * 1024 * 1024);
    const body = bodyWith(raw.toString("base64"));
    let turns = 0;
    const tick = setInterval(() => turns++, 0);
    try {
      assert.deepEqual(Buffer.from(await decodeImageFieldSliced(body)), raw);
    } finally {
      clearInterval(tick);
    }
    assert.ok(turns >= 1, `timers ran ${turns} times during the decode`);
  });
});
