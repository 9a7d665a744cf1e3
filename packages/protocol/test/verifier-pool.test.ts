import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Keyring } from "@polkadot/keyring";
import {
  Dendrite,
  ensureCryptoReady,
  inlineSignatureVerifier,
  NonceStore,
  ProtocolError,
  parseRequestHeaders,
  type RequestHeaders,
  SignatureVerifierPool,
  VerifierUnavailableError,
  verifyRequest,
  verifyRequestAsync,
} from "../src/index.ts";

const enc = (s: string) => new TextEncoder().encode(s);

describe("SignatureVerifierPool", () => {
  let alice: ReturnType<Keyring["addFromUri"]>;
  let bob: ReturnType<Keyring["addFromUri"]>;
  const pool = new SignatureVerifierPool({ size: 2 });
  before(async () => {
    await ensureCryptoReady();
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    alice = keyring.addFromUri("//Alice");
    bob = keyring.addFromUri("//Bob");
    await pool.start();
  });
  after(() => pool.close());

  it("answers exactly like the inline check: raw, <Bytes>-wrapped, wrong key, tampered, malformed point", async () => {
    const message = enc("1700000000000000000.5Grw.5FHn.uuid.hash");
    const raw = alice.sign(message);
    const wrapped = alice.sign(enc("<Bytes>1700000000000000000.5Grw.5FHn.uuid.hash</Bytes>"));
    const tampered = Uint8Array.from(raw);
    tampered[10] = (tampered[10] as number) ^ 1;
    const cases: [Uint8Array, Uint8Array, Uint8Array][] = [
      [message, raw, alice.publicKey],
      [message, wrapped, alice.publicKey],
      [message, raw, bob.publicKey],
      [message, tampered, alice.publicKey],
      [message, new Uint8Array(64).fill(0xff), alice.publicKey],
      [message, raw, new Uint8Array(32).fill(0xff)],
    ];
    const pooled = await Promise.all(cases.map(([m, s, k]) => pool.verify(m, s, k)));
    const inline = await Promise.all(cases.map(([m, s, k]) => inlineSignatureVerifier.verify(m, s, k)));
    assert.deepEqual(pooled, [true, true, false, false, false, false]);
    assert.deepEqual(pooled, inline);
    assert.equal(pool.pending, 0);
  });

  it("spreads concurrent work and answers each task", async () => {
    const message = enc("many");
    const good = alice.sign(message);
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => pool.verify(message, good, i % 3 === 0 ? bob.publicKey : alice.publicKey)),
    );
    assert.deepEqual(
      results,
      Array.from({ length: 24 }, (_, i) => i % 3 !== 0),
    );
  });

  it("a closed pool refuses work with a clear error", async () => {
    const p = new SignatureVerifierPool({ size: 1 });
    await p.close();
    await assert.rejects(p.verify(enc("x"), new Uint8Array(64), alice.publicKey), VerifierUnavailableError);
    assert.throws(() => new SignatureVerifierPool({ size: 0 }), RangeError);
  });
});

describe("verifyRequestAsync", () => {
  let alice: ReturnType<Keyring["addFromUri"]>;
  const axonHotkey = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
  const pool = new SignatureVerifierPool({ size: 2 });
  before(async () => {
    await ensureCryptoReady();
    alice = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri("//Alice");
  });
  after(() => pool.close());

  const request = (nonceNs: bigint, uuid = "0b3c1a52-0000-11ef-8000-000000000001"): RequestHeaders => {
    const d = new Dendrite({ signer: alice, uuid });
    const req = d.buildRequest({
      axon: { ip: "127.0.0.1", port: 8091, hotkey: axonHotkey },
      image: Buffer.from([0xff, 0xd8, 0xff]),
      nonceNs,
    });
    return parseRequestHeaders((name) => req.headers[name]);
  };
  const now = BigInt(Date.now()) * 1_000_000n;
  const ctx = (nonces: NonceStore) => ({ selfHotkey: axonHotkey, nowNs: now, nonces });
  const message = (e: unknown) => (e instanceof ProtocolError ? e.message : String(e));

  it("accepts what verifyRequest accepts and refuses what it refuses, with the same message", async () => {
    const good = request(now);
    const forged = { ...good, dendrite: { ...good.dendrite, uuid: "0b3c1a52-0000-11ef-8000-000000000002" } };
    const stale = request(now - 600_000_000_000n);
    for (const h of [good, forged, stale]) {
      let sync = "ok";
      let async = "ok";
      try {
        verifyRequest(h, ctx(new NonceStore()));
      } catch (e) {
        sync = message(e);
      }
      try {
        await verifyRequestAsync(h, ctx(new NonceStore()), pool);
      } catch (e) {
        async = message(e);
      }
      assert.equal(async, sync);
    }
    const nonces = new NonceStore();
    await verifyRequestAsync(good, ctx(nonces), pool);
    assert.equal(nonces.get(`${alice.address}:${good.dendrite.uuid}`), now);
    await assert.rejects(verifyRequestAsync(forged, ctx(new NonceStore()), pool), /Signature mismatch/);
  });

  it("of replays racing each other through the workers, exactly one is accepted", async () => {
    const nonces = new NonceStore();
    const h = request(now + 1n);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, () => verifyRequestAsync(h, ctx(nonces), pool)),
    );
    assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1);
    for (const o of outcomes) {
      if (o.status === "rejected") assert.match(message(o.reason), /Nonce is too old, a newer one was last processed/);
    }
  });

  it("an older nonce that finishes verifying after a newer one was recorded is refused", async () => {
    const nonces = new NonceStore();
    const older = request(now + 10n);
    const newer = request(now + 20n);
    const [a, b] = await Promise.allSettled([
      verifyRequestAsync(older, ctx(nonces), pool),
      verifyRequestAsync(newer, ctx(nonces), pool),
    ]);
    // Whichever order the workers finish in, the recorded nonce never goes backwards.
    assert.equal(nonces.get(`${alice.address}:${older.dendrite.uuid}`), now + 20n);
    assert.equal(b.status, "fulfilled");
    if (a.status === "rejected") assert.match(message(a.reason), /newer one was last processed/);
  });
});
