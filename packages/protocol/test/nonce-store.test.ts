import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { Keyring } from "@polkadot/keyring";
import {
  EMPTY_BODY_HASH,
  ensureCryptoReady,
  NonceStore,
  ProtocolError,
  parseRequestHeaders,
  verifyRequest,
} from "../src/index.ts";

describe("NonceStore", () => {
  it("remembers the last nonce per key", () => {
    const s = new NonceStore();
    assert.equal(s.get("a"), undefined);
    s.set("a", 5n);
    s.set("b", 7n);
    assert.equal(s.get("a"), 5n);
    s.set("a", 9n);
    assert.equal(s.get("a"), 9n);
    assert.equal(s.size, 2);
  });

  it("forgets keys idle past the TTL", () => {
    let now = 0;
    const s = new NonceStore({ ttlMs: 1000, now: () => now });
    s.set("a", 1n);
    now = 999;
    assert.equal(s.get("a"), 1n);
    s.set("b", 2n);
    now = 1000;
    assert.equal(s.get("a"), undefined);
    assert.equal(s.get("b"), 2n);
    now = 1500;
    s.set("c", 3n); // sweeps expired entries from the old end: b (set at 999) stays
    assert.equal(s.size, 2);
    now = 2000;
    s.set("d", 4n); // b is now 1001 ms idle: dropped; c stays
    assert.equal(s.size, 2);
    assert.equal(s.get("b"), undefined);
  });

  it("drops the least recently updated key when full", () => {
    let now = 0;
    const s = new NonceStore({ maxEntries: 2, now: () => now++ });
    s.set("a", 1n);
    s.set("b", 1n);
    s.set("a", 2n); // a is now the youngest
    s.set("c", 1n);
    assert.equal(s.size, 2);
    assert.equal(s.get("b"), undefined);
    assert.equal(s.get("a"), 2n);
    assert.equal(s.get("c"), 1n);
  });

  it("remembers at most maxPerKey nonces in the window and refuses everything at or below the oldest forgotten", () => {
    const s = new NonceStore({ maxPerKey: 3, windowNs: 1_000n });
    s.set("k", 100n);
    assert.equal(s.check("k", 99n), "accepted");
    for (const n of [50n, 60n, 70n]) s.set("k", n); // 50 is forgotten: the floor rises to it
    assert.equal(s.check("k", 50n), "replayed");
    assert.equal(s.check("k", 40n), "replayed");
    assert.equal(s.check("k", 55n), "accepted");
    assert.equal(s.check("k", 60n), "replayed");
    assert.equal(s.check("k", 100n), "replayed");
    assert.equal(s.check("k", 101n), "accepted");
    assert.equal(s.check("other", 1n), "first-seen");
    // Sliding: once the highest moves on, the window's floor follows it.
    s.set("k", 2_000n);
    assert.equal(s.check("k", 1_000n), "replayed");
    assert.equal(s.check("k", 1_001n), "accepted");
    assert.equal(s.get("k"), 2_000n);
  });

  it("refuses nonsense limits", () => {
    assert.throws(() => new NonceStore({ windowNs: -1n }), RangeError);
    assert.throws(() => new NonceStore({ maxPerKey: 0 }), RangeError);
    assert.throws(() => new NonceStore({ ttlMs: 0 }), RangeError);
    assert.throws(() => new NonceStore({ maxEntries: 0 }), RangeError);
  });
});

describe("verifyRequest nonce rules", () => {
  const SELF = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
  const NOW = 1_767_225_600_000_000_000n;
  let alice: ReturnType<Keyring["addFromUri"]>;
  before(async () => {
    await ensureCryptoReady();
    alice = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri("//Alice");
  });

  function request(nonce: bigint, opts: { uuid?: string; timeout?: string; version?: string | null } = {}) {
    const uuid = opts.uuid ?? "5ecbd69c-1cec-11ee-b0dc-e29ce36fec1a";
    const msg = `${nonce}.${alice.address}.${SELF}.${uuid}.${EMPTY_BODY_HASH}`;
    const headers: Record<string, string> = {
      timeout: opts.timeout ?? "9.0",
      bt_header_dendrite_nonce: nonce.toString(),
      bt_header_dendrite_uuid: uuid,
      bt_header_dendrite_hotkey: alice.address,
      bt_header_dendrite_signature: `0x${Buffer.from(alice.sign(new TextEncoder().encode(msg))).toString("hex")}`,
      computed_body_hash: EMPTY_BODY_HASH,
    };
    if (opts.version !== null) headers.bt_header_dendrite_version = opts.version ?? "9012002";
    return parseRequestHeaders((n) => headers[n]);
  }
  const outcome = (h: ReturnType<typeof request>, nonces: NonceStore, nowNs = NOW) => {
    try {
      verifyRequest(h, { selfHotkey: SELF, nowNs, nonces });
      return "ok";
    } catch (e) {
      assert.ok(e instanceof ProtocolError);
      assert.equal(e.status, 401);
      return e.message.replace("Not Verified with error: ", "");
    }
  };

  it("first-seen window is 4 s + timeout, exclusive at the edge", () => {
    const s = () => new NonceStore();
    assert.equal(outcome(request(NOW - 13_000_000_000n + 1n), s()), "ok");
    assert.equal(
      outcome(request(NOW - 13_000_000_000n), s()),
      "Nonce is too old: acceptable delta is 13.00 seconds but request was 13.00 seconds old",
    );
    assert.equal(
      outcome(request(NOW - 4_000_000_001n, { timeout: "0" }), s()).startsWith(
        "Nonce is too old: acceptable delta is 4.00",
      ),
      true,
    );
    // Future nonces are accepted (Python never rejects them).
    assert.equal(outcome(request(NOW + 3_600_000_000_000n), s()), "ok");
  });

  it("clamps the caller's timeout so inf/nan/huge values cannot widen the window", () => {
    const old = NOW - 65_000_000_000n; // 65 s: outside 4 + 60
    for (const t of ["inf", "nan", "1e9", "-5"]) {
      assert.match(
        outcome(request(old, { timeout: t }), new NonceStore()),
        /^Nonce is too old: acceptable delta is/,
        t,
      );
    }
    assert.equal(outcome(request(NOW - 63_000_000_000n, { timeout: "inf" }), new NonceStore()), "ok");
  });

  it("enforces freshness even without a version header (stricter than Python's legacy path)", () => {
    assert.match(outcome(request(NOW - 60_000_000_000n, { version: null }), new NonceStore()), /^Nonce is too old/);
    assert.match(
      outcome(request(NOW - 60_000_000_000n, { version: "7001999" }), new NonceStore()),
      /^Nonce is too old/,
    );
  });

  it("after acceptance, a nonce is accepted once: above the highest, or unseen inside the 4 s window", () => {
    const nonces = new NonceStore();
    const REPLAY = "Nonce is too old, a newer one was last processed";
    assert.equal(outcome(request(NOW), nonces), "ok");
    assert.equal(outcome(request(NOW), nonces), REPLAY);
    // A lower nonce of the same dendrite that arrives late (reordered on the wire) is still answered, once.
    assert.equal(outcome(request(NOW - 1n), nonces), "ok");
    assert.equal(outcome(request(NOW - 1n), nonces), REPLAY);
    assert.equal(outcome(request(NOW + 1n), nonces), "ok");
    assert.equal(outcome(request(NOW - 3_000_000_000n), nonces), "ok");
    // At or below the floor (4 s under the highest) is refused even though never seen.
    assert.equal(outcome(request(NOW + 1n - 4_000_000_000n), nonces), REPLAY);
    assert.equal(outcome(request(NOW - 5_000_000_000n), nonces), REPLAY);
    // An hour later the key is still known: a newer nonce passes though it is "old" relative to now.
    assert.equal(outcome(request(NOW + 2n), nonces, NOW + 3_000_000_000_000n), "ok");
    // Another uuid of the same hotkey is a separate key.
    assert.equal(outcome(request(NOW, { uuid: "other" }), nonces), "ok");
  });

  it("window 0 is Python's strict rule", () => {
    const nonces = new NonceStore({ windowNs: 0n });
    assert.equal(outcome(request(NOW), nonces), "ok");
    assert.equal(outcome(request(NOW - 1n), nonces), "Nonce is too old, a newer one was last processed");
    assert.equal(outcome(request(NOW + 1n), nonces), "ok");
  });

  it("a rejected request does not advance the stored nonce", () => {
    const nonces = new NonceStore();
    assert.equal(outcome(request(NOW), nonces), "ok");
    const bad = request(NOW + 10n);
    bad.dendrite.signature = `0x${"00".repeat(64)}`;
    assert.match(outcome(bad, nonces), /^Signature mismatch/);
    assert.equal(outcome(request(NOW + 5n), nonces), "ok");
  });

  it("an evicted key is first-seen again, so an old replay meets the freshness window", () => {
    let ms = Number(NOW / 1_000_000n);
    const nonces = new NonceStore({ ttlMs: 3_600_000, now: () => ms });
    const first = request(NOW);
    assert.equal(outcome(first, nonces), "ok");
    ms += 3_600_000;
    assert.match(outcome(request(NOW + 1n), nonces, NOW + 3_600_000_000_000n), /^Nonce is too old: acceptable delta/);
  });

  it("rejects missing hotkey, uuid, nonce and signature, and foreign address formats", () => {
    const h = request(NOW);
    assert.equal(
      outcome({ ...h, dendrite: { ...h.dendrite, hotkey: undefined } }, new NonceStore()),
      "Missing dendrite hotkey",
    );
    assert.equal(
      outcome({ ...h, dendrite: { ...h.dendrite, uuid: undefined } }, new NonceStore()),
      "Missing dendrite uuid",
    );
    assert.equal(
      outcome({ ...h, dendrite: { ...h.dendrite, nonce: undefined, nonceText: undefined } }, new NonceStore()),
      "Missing Nonce",
    );
    assert.equal(outcome({ ...h, dendrite: { ...h.dendrite, signature: "" } }, new NonceStore()), "Missing Signature");
    assert.match(
      outcome({ ...h, dendrite: { ...h.dendrite, hotkey: "not-an-address" } }, new NonceStore()),
      /^Invalid dendrite hotkey/,
    );
  });
});
