import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { Keyring } from "@polkadot/keyring";
import { u8aConcat } from "@polkadot/util";
import { sr25519PairFromSeed, sr25519Sign, sr25519Verify } from "@polkadot/util-crypto";
import {
  sr25519KeypairFromSeed,
  sr25519Sign as wasmSr25519Sign,
  sr25519Verify as wasmSr25519Verify,
} from "@polkadot/wasm-crypto";
import {
  decodeSignatureHex,
  ensureCryptoReady,
  publicKeyOf,
  SignatureFormatError,
  verifySignature,
  verifySignatureBytes,
} from "../src/index.ts";

const fixture = JSON.parse(readFileSync(new URL("./fixtures/axon-requests.json", import.meta.url), "utf8"));
const vector = (id: string) => fixture.vectors.find((v: { id: string }) => v.id === id);
const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

describe("verifySignature", () => {
  let sign: (m: string) => string;
  before(async () => {
    await ensureCryptoReady();
    const alice = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri("//Alice");
    sign = (m) => `0x${Buffer.from(alice.sign(new TextEncoder().encode(m))).toString("hex")}`;
  });

  it("accepts a fresh signature and the vector's signature", () => {
    assert.equal(verifySignature("hello", sign("hello"), ALICE), true);
    const a = vector("a_valid");
    assert.equal(verifySignature(a.signed_message, a.headers.bt_header_dendrite_signature, ALICE), true);
  });

  it("rejects another message, another signer and a tampered s", () => {
    const sig = sign("hello");
    assert.equal(verifySignature("hellO", sig, ALICE), false);
    assert.equal(verifySignature("hello", sig, "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"), false);
    const b = vector("b_tampered_signature");
    assert.equal(verifySignature(b.signed_message, b.headers.bt_header_dendrite_signature, ALICE), false);
  });

  it("returns false where the underlying sr25519Verify throws on a garbage R", () => {
    const b2 = vector("b2_tampered_signature_R");
    const sig = decodeSignatureHex(b2.headers.bt_header_dendrite_signature);
    const pk = publicKeyOf(ALICE)!;
    assert.throws(() => sr25519Verify(new TextEncoder().encode(b2.signed_message), sig, pk));
    assert.equal(verifySignature(b2.signed_message, b2.headers.bt_header_dendrite_signature, ALICE), false);
    const junk = `0x${"ff".repeat(64)}`;
    assert.equal(verifySignature("hello", junk, ALICE), false);
  });

  it("accepts uppercase hex and repeated 0x prefixes, as btwallet does", () => {
    const sig = sign("hello");
    assert.equal(verifySignature("hello", `0x${sig.slice(2).toUpperCase()}`, ALICE), true);
    assert.equal(verifySignature("hello", `0x0x${sig.slice(2)}`, ALICE), true);
    assert.equal(verifySignature("hello", `0x0x0x${sig.slice(2)}`, ALICE), true);
  });

  it("accepts a signature over <Bytes>message</Bytes> (polkadot-js signRaw)", () => {
    const alice = new Keyring({ type: "sr25519" }).addFromUri("//Alice");
    const enc = new TextEncoder();
    const wrapped = alice.sign(u8aConcat(enc.encode("<Bytes>"), enc.encode("hi"), enc.encode("</Bytes>")));
    assert.equal(verifySignature("hi", `0x${Buffer.from(wrapped).toString("hex")}`, ALICE), true);
    const i = vector("i_bytes_wrapped_signature");
    assert.equal(verifySignature(i.signed_message, i.headers.bt_header_dendrite_signature, ALICE), true);
  });

  it("fails, never throws, on malformed signatures and addresses", () => {
    const sig = sign("hello");
    for (const bad of [
      sig.slice(2),
      `${sig}00`,
      sig.slice(0, -2),
      `${sig.slice(0, -1)}g`,
      "",
      "0x",
      "0X" + sig.slice(2),
    ]) {
      assert.equal(verifySignature("hello", bad, ALICE), false, bad);
    }
    for (const addr of [
      "",
      "nope",
      `${ALICE.slice(0, -1)}Z`,
      "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d",
    ]) {
      assert.equal(verifySignature("hello", sig, addr), false, addr);
    }
    // Same key, Polkadot prefix 0: refused, since hotkeys on the subnet are prefix-42 strings.
    assert.equal(verifySignature("hello", sig, "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5"), false);
  });
});

describe("decodeSignatureHex (btwallet Keypair.verify rules)", () => {
  const msg = (s: string) => {
    try {
      decodeSignatureHex(s);
      return "ok";
    } catch (e) {
      assert.ok(e instanceof SignatureFormatError);
      return (e as Error).message;
    }
  };
  it("words each defect like btwallet", () => {
    const hex = "ab".repeat(64);
    assert.equal(msg(`0x${hex}`), "ok");
    assert.equal(msg(hex), "Invalid signature format. Expected hex string.");
    assert.equal(msg(`0X${hex}`), "Invalid signature format. Expected hex string.");
    assert.equal(msg(`0x${hex}0`), "Invalid hex string: OddLength");
    assert.equal(msg(`0x${hex.slice(0, -2)}zz`), "Invalid hex string: InvalidHexCharacter { c: 'z', index: 126 }");
    assert.equal(msg(`0x${hex}abab`), "Invalid signature");
    assert.equal(msg("0x"), "Invalid signature");
    assert.equal(decodeSignatureHex(`0x0x${hex.toUpperCase()}`).length, 64);
  });
});

describe("wasm-crypto verify against @scure/sr25519 (util-crypto 14)", () => {
  before(ensureCryptoReady);

  // Deterministic bytes (xorshift32), so a failure names a reproducible case.
  const bytes = (seed: number, n: number): Uint8Array => {
    let x = seed >>> 0 || 1;
    return Uint8Array.from({ length: n }, () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x & 0xff;
    });
  };
  const scure = (m: Uint8Array, s: Uint8Array, k: Uint8Array): boolean => {
    try {
      return sr25519Verify(m, s, k);
    } catch {
      return false;
    }
  };
  /** btwallet semantics on the scure backend: the reference the wasm path must match. */
  const scureBtwallet = (m: Uint8Array, s: Uint8Array, k: Uint8Array) =>
    scure(m, s, k) ||
    scure(u8aConcat(new TextEncoder().encode("<Bytes>"), m, new TextEncoder().encode("</Bytes>")), s, k);
  const flip = (b: Uint8Array, i: number) => {
    const out = Uint8Array.from(b);
    out[i % out.length] = (out[i % out.length] as number) ^ (1 << (i % 8));
    return out;
  };

  it("gives the same verdict on valid, tampered, wrong-key and garbage inputs for 12 random keys", () => {
    let accepted = 0;
    let total = 0;
    for (let k = 0; k < 12; k++) {
      const seed = bytes(1000 + k, 32);
      const js = sr25519PairFromSeed(seed);
      const wasmPair = sr25519KeypairFromSeed(seed);
      const publicKey = wasmPair.slice(64);
      assert.deepEqual(publicKey, js.publicKey, "both backends derive the same key");
      const message = bytes(5000 + k, 1 + ((k * 37) % 200));
      const other = sr25519PairFromSeed(bytes(9000 + k, 32)).publicKey;
      const signatures = [
        sr25519Sign(message, js), // scure signs, wasm verifies
        wasmSr25519Sign(publicKey, wasmPair.slice(0, 64), message), // and the other way round
        sr25519Sign(u8aConcat(new TextEncoder().encode("<Bytes>"), message, new TextEncoder().encode("</Bytes>")), js),
      ];
      const cases: [Uint8Array, Uint8Array, Uint8Array][] = [];
      for (const sig of signatures) {
        cases.push([message, sig, publicKey], [flip(message, k), sig, publicKey], [message, sig, other]);
        cases.push([message, flip(sig, k), publicKey], [message, flip(sig, 32 + k), publicKey]);
      }
      cases.push([message, bytes(7000 + k, 64), publicKey], [message, signatures[0]!, bytes(8000 + k, 32)]);
      for (const [m, s, pk] of cases) {
        const reference = scureBtwallet(m, s, pk);
        assert.equal(verifySignatureBytes(m, s, pk), reference, `key ${k}`);
        // The bare primitives agree too (a throw counts as false).
        let wasm: boolean;
        try {
          wasm = wasmSr25519Verify(s, m, pk);
        } catch {
          wasm = false;
        }
        assert.equal(wasm, scure(m, s, pk), `key ${k}, bare verify`);
        accepted += reference ? 1 : 0;
        total++;
      }
    }
    // Each key: the three valid signatures pass, every tampered or foreign case fails.
    assert.equal(accepted, 12 * 3);
    assert.equal(total, 12 * 17);
  });
});
