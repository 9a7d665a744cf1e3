import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  decodeImageField,
  decodeImageFieldSliced,
  LARGE_BODY_BYTES,
  type ParsedSynapseBody,
  ProtocolError,
  parseSynapseBody,
  parseSynapseBodyBytes,
  stringifyCompact,
} from "../src/index.ts";

const fixture = JSON.parse(readFileSync(new URL("./fixtures/axon-requests.json", import.meta.url), "utf8"));
const A_BODY: string = fixture.vectors[0].body_raw;

/** A validator's body (the fixture's fields, same order) carrying `image` as its image text. */
const bodyWithImage = (image: string) => A_BODY.replace(/"image": "[^"]*"/, () => `"image": "${image}"`);
const frame = (size: number) => {
  const raw = Buffer.alloc(size);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
  return raw;
};
const BIG = frame(LARGE_BODY_BYTES); // its base64 is 4/3 of the threshold: the byte path
const BIG_TEXT = BIG.toString("base64");

/** `bytes` cut at `cuts` (sorted offsets). */
const chunked = (bytes: Uint8Array, cuts: number[]) => {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    out.push(bytes.subarray(from, to));
    from = to;
  }
  return out;
};

/** What a body amounts to: the error (status, message), or the image bytes and every other field as JSON. */
type Outcome = { error: string } | { image: string; rest: string; timeout: number; testnetLabel: number };
const outcomeOf = async (parse: () => Promise<ParsedSynapseBody> | ParsedSynapseBody): Promise<Outcome> => {
  try {
    const body = await parse();
    const image = Buffer.from(await decodeImageFieldSliced(body)).toString("hex");
    const rest = new Map(body.fields);
    rest.delete("image");
    return { image, rest: stringifyCompact(rest), timeout: body.timeout, testnetLabel: body.testnetLabel };
  } catch (e) {
    assert.ok(e instanceof ProtocolError, String(e));
    return { error: `${e.status} ${e.message}` };
  }
};
const viaText = (bytes: Uint8Array, ct = "application/json") =>
  outcomeOf(() => parseSynapseBody(new TextDecoder().decode(bytes), ct));
const viaBytes = (chunks: Uint8Array[], ct = "application/json") => outcomeOf(() => parseSynapseBodyBytes(chunks, ct));

describe("parseSynapseBodyBytes", () => {
  it("reads a full-resolution body from its bytes: the same image and fields as the text, however it was cut", async () => {
    const bytes = Buffer.from(bodyWithImage(BIG_TEXT));
    const expected = await viaText(bytes);
    assert.ok("image" in expected && expected.image === BIG.toString("hex"));
    const open = bytes.indexOf('"image": "') + 10;
    const close = bytes.indexOf('"', open);
    const cutSets = [
      [],
      [open - 1, open, open + 1, close - 1, close, close + 1],
      [open + 3, open + 5, open + 6, close - 5, close - 2],
      Array.from({ length: Math.floor(bytes.length / 65_536) }, (_, i) => (i + 1) * 65_536),
      Array.from({ length: 40 }, (_, i) => 1 + i * 7919),
    ];
    for (const cuts of cutSets) {
      const body = await parseSynapseBodyBytes(chunked(bytes, cuts), "application/json");
      assert.ok(body.imageBytes, "a large body takes the byte path");
      assert.deepEqual(await viaBytes(chunked(bytes, cuts)), expected, `cuts ${cuts.slice(0, 6)}`);
    }
  });

  it("gives the text path's answer, error or success, for every unusual large body", async () => {
    const big = BIG_TEXT;
    const at = (i: number, ch: string) => `${big.slice(0, i)}${ch}${big.slice(i + 1)}`;
    const cases: [string, string][] = [
      ["control character in the image (422 JSON error)", bodyWithImage(at(5000, "\u0001"))],
      ["URL-safe alphabet", bodyWithImage(at(70_001, "-"))],
      ["underscore in the last quantum", bodyWithImage(at(big.length - 2, "_"))],
      ["padding inside", bodyWithImage(at(4000, "="))],
      ["length not a multiple of 4", bodyWithImage(`${big}AAE`)],
      ["non-ASCII character", bodyWithImage(at(9000, "é"))],
      ["an escaped slash (same value as '/')", bodyWithImage(`${big.slice(0, 100)}\\/${big.slice(101)}`)],
      ["broken JSON after the image", bodyWithImage(big).replace('"prediction"', '"prediction" "x"')],
      ["unterminated image string", A_BODY.slice(0, A_BODY.indexOf('"image": "') + 10) + big],
      ["image twice, the big one first", bodyWithImage(big).replace(/}$/, ', "image": "AAAA"}')],
      ["image twice, the big one last", bodyWithImage("AAAA").replace(/}$/, `, "image": "${big}"}`)],
      ["'image' inside another string first", `{"name": "x\\"image\\": \\"", "image": "${big}"}`],
      ["'image' as a nested key", `{"dendrite": {"image": "${big}"}, "image": "AAAA"}`],
      ["image of another type", `{"image": ["${big}"]}`],
      ["the image far from the start", `{"name": "${"n".repeat(70_000)}", "image": "${big}"}`],
      ["much text after the image", `{"image": "${big}", "name": "${"n".repeat(70_000)}"}`],
      ["a top-level array", `["image", "${big}"]`],
      ["a BOM first", `\ufeff${bodyWithImage(big)}`],
      ["bad image field type elsewhere", bodyWithImage(big).replace('"timeout": 9.0', '"timeout": "soon"')],
    ];
    for (const [name, text] of cases) {
      const bytes = Buffer.from(text);
      assert.ok(bytes.length >= LARGE_BODY_BYTES, name);
      const cuts = [1000, bytes.length >> 1, bytes.length - 3];
      assert.deepEqual(await viaBytes(chunked(bytes, cuts)), await viaText(bytes), name);
    }
    // And the content-type gate comes first, as on the text path.
    const bytes = Buffer.from(bodyWithImage(big));
    assert.deepEqual(await viaBytes([bytes], "text/plain"), await viaText(bytes, "text/plain"));
  });

  it("parses a small body as text: UTF-8 split across chunks decodes whole", async () => {
    const bytes = new TextEncoder().encode('{"image":"AAAA","name":"é€😀"}');
    for (let cut = 1; cut < bytes.length; cut++) {
      const body = await parseSynapseBodyBytes(chunked(bytes, [cut]), "application/json");
      assert.equal(body.fields.get("name"), "é€😀");
      assert.equal(body.image, "AAAA");
      assert.equal(body.imageBytes, undefined);
      assert.deepEqual([...decodeImageField(body)], [0, 0, 0]);
    }
    await assert.rejects(parseSynapseBodyBytes([], "application/json"), /Request body is empty/);
  });

  it("lets the event loop turn while it decodes a full-resolution frame", async () => {
    const raw = frame(6 * 1024 * 1024);
    const bytes = Buffer.from(bodyWithImage(raw.toString("base64")));
    const chunks = chunked(
      bytes,
      Array.from({ length: Math.floor(bytes.length / 65_536) }, (_, i) => (i + 1) * 65_536),
    );
    let turns = 0;
    const tick = setInterval(() => turns++, 0);
    try {
      const body = await parseSynapseBodyBytes(chunks, "application/json");
      assert.deepEqual(Buffer.from(decodeImageField(body)), raw);
    } finally {
      clearInterval(tick);
    }
    assert.ok(turns >= 1, `timers ran ${turns} times during the parse`);
  });
});
