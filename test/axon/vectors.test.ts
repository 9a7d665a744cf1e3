// Every protocol vector (packages/protocol/test/fixtures/axon-requests.json, copied from the spec's vectors) sent as-is
// over HTTP to a running axon with a real ONNX model: exact headers and body_raw, the clock fixed at the vector's
// now_ns, axon hotkey //Bob, metagraph admitting //Alice with a validator permit.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { Scorer } from "@roadwork/inference";
import { devKeys, metagraphOf, neuron, rawPost, realScorer, startTestAxon, type TestAxon } from "./harness.ts";

interface Vector {
  id: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body_raw: string;
  axon_hotkey_ss58: string;
  now_ns: string;
  axon_state: string;
  expected: {
    python: {
      status: number;
      status_message?: string;
      status_message_regex?: string;
      bt_header_axon_status_code?: string;
    };
  };
  recommended?: { status: number; status_message: string };
}

const fixture = JSON.parse(
  readFileSync(new URL("../../packages/protocol/test/fixtures/axon-requests.json", import.meta.url), "utf8"),
) as { vectors: Vector[] };

/**
 * Deliberate differences from Python, both named in the spec (bittensor-protocol.md §2.4 and §2.7, and the vectors'
 * `recommended` entries): a missing signature is rejected (Python skips the check), and a body-hash mismatch is the
 * caller's fault, 400 (Python's 500 comes from an exception escaping a FastAPI dependency).
 */
const DELIBERATE: Record<string, "recommended"> = {
  h_missing_signature: "recommended",
  e_body_hash_mismatch: "recommended",
};

describe("protocol vectors over HTTP", () => {
  let scorer: Scorer;
  let cleanup: () => Promise<void>;
  let keys: Awaited<ReturnType<typeof devKeys>>;

  before(async () => {
    keys = await devKeys();
    ({ scorer, cleanup } = await realScorer());
  });
  after(async () => cleanup());

  const byId = new Map(fixture.vectors.map((v) => [v.id, v]));

  /** A fresh axon (empty nonce store) per vector, as the fixture prescribes; "after:<id>" replays <id> first. */
  async function run(vector: Vector): Promise<Awaited<ReturnType<typeof rawPost>>> {
    const axon: TestAxon = await startTestAxon({
      scorer,
      hotkey: vector.axon_hotkey_ss58,
      metagraph: metagraphOf([neuron(0, keys.alice, 1000, true), neuron(1, keys.bob, 10, false)]),
      nowNs: () => BigInt(vector.now_ns),
    });
    try {
      const send = (v: Vector) =>
        rawPost(axon.port, { method: v.method, path: v.path, headers: v.headers, body: v.body_raw });
      if (vector.axon_state.startsWith("after:")) {
        const first = byId.get(vector.axon_state.slice("after:".length));
        assert.ok(first, `unknown prerequisite ${vector.axon_state}`);
        assert.equal((await send(first)).status, first.expected.python.status);
      }
      return await send(vector);
    } finally {
      await axon.close();
    }
  }

  test("the fixture has the vectors the spec lists", () => {
    assert.ok(fixture.vectors.length >= 12);
    assert.equal(keys.bob.address, fixture.vectors[0]!.axon_hotkey_ss58);
    assert.equal(keys.alice.address, fixture.vectors[0]!.headers.bt_header_dendrite_hotkey);
  });

  for (const vector of fixture.vectors) {
    const deliberate = DELIBERATE[vector.id];
    const title = deliberate
      ? `${vector.id}: ${vector.recommended!.status} (deliberate difference: Python answers ${vector.expected.python.status})`
      : `${vector.id}: ${vector.expected.python.status} like Python`;
    test(title, async () => {
      const res = await run(vector);
      const expected = deliberate ? vector.recommended! : vector.expected.python;
      assert.equal(res.status, expected.status, res.body);
      assert.equal(res.headers["content-type"], "application/json");
      if (res.status === 200) {
        const body = res.json() as { prediction: number; axon: { status_code: number; hotkey: string } };
        assert.equal(typeof body.prediction, "number");
        assert.ok(body.prediction >= 0 && body.prediction <= 1 && body.prediction !== 0.5, String(body.prediction));
        assert.equal(body.axon.status_code, 200);
        assert.equal(body.axon.hotkey, keys.bob.address);
        assert.equal(res.headers.bt_header_axon_status_message, "Success");
      } else {
        const message = (res.json() as { message: string }).message;
        if ("status_message" in expected && expected.status_message !== undefined) {
          assert.equal(message, expected.status_message);
        } else {
          assert.match(message, new RegExp(vector.expected.python.status_message_regex!));
        }
        assert.equal(res.headers.bt_header_axon_status_message, message);
        // The TCP peer replaces the dendrite address the caller claimed (203.0.113.7 in the vectors), as in Python.
        if (vector.id !== "j_unknown_synapse") assert.equal(res.headers.bt_header_dendrite_ip, "127.0.0.1");
      }
      assert.equal(res.headers.bt_header_axon_status_code, String(expected.status));
    });
  }
});
