import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Keyring } from "@polkadot/keyring";
import { hexToU8a } from "@polkadot/util";
import { cryptoWaitReady, sr25519Verify } from "@polkadot/util-crypto";
import { buildRegistrationRequest, NatixRegistrationError, registerWithNatix } from "../src/natix-registration.ts";
import { FakeNatix } from "./support/fake-natix.ts";

await cryptoWaitReady();
const hotkey = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri("//Bob");
const REPO = "roadwork-test/streetvision-model";

describe("NATIX registration request", () => {
  it("matches register.sh: unix-seconds string, hotkey sr25519 over its UTF-8 bytes, all-string JSON", () => {
    const body = buildRegistrationRequest({ uid: 10, repo: REPO, hotkey, now: new Date("2026-01-01T00:00:00.999Z") });
    assert.deepEqual(Object.keys(body), [
      "uid",
      "message",
      "natix_public_key",
      "natix_signature",
      "type",
      "model_repo",
    ]);
    assert.equal(body.uid, "10");
    assert.equal(body.message, "1767225600");
    assert.equal(body.natix_public_key, "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty");
    assert.match(body.natix_signature, /^[0-9a-f]{128}$/);
    assert.ok(
      sr25519Verify(new TextEncoder().encode("1767225600"), hexToU8a(`0x${body.natix_signature}`), hotkey.publicKey),
    );
    // Not the <Bytes>-wrapped form.
    assert.ok(
      !sr25519Verify(
        new TextEncoder().encode("<Bytes>1767225600</Bytes>"),
        hexToU8a(`0x${body.natix_signature}`),
        hotkey.publicKey,
      ),
    );
    assert.throws(() => buildRegistrationRequest({ uid: -1, repo: REPO, hotkey, now: new Date() }), /invalid uid/);
    assert.throws(() => buildRegistrationRequest({ uid: 1, repo: "no-slash", hotkey, now: new Date() }), /org\/name/);
  });
});

describe("registerWithNatix against a loopback NATIX", () => {
  let natix: FakeNatix;
  const events: string[] = [];
  const opts = () => ({
    uid: 10,
    repo: REPO,
    hotkey,
    fetch,
    baseUrl: natix.url,
    pollIntervalMs: 5,
    // Generous, so scripted polls settle on a loaded machine; the deadline tests set their own.
    deadlineMs: 30_000,
    log: (e: string) => events.push(e),
  });
  before(async () => {
    natix = await new FakeNatix().start();
  });
  after(() => natix.stop());

  it("succeeds after pending/queued/processing/empty, with a signature the server verified", async () => {
    natix.statusScript = [
      { status: "pending" },
      { status: "queued" },
      { status: "processing" },
      { status: "" },
      { status: "success" },
    ];
    const out = await registerWithNatix(opts());
    assert.equal(out.status, "succeeded");
    assert.equal(out.polls, 5);
    assert.equal(natix.registrations.at(-1)?.model_repo, REPO);
    assert.deepEqual(natix.rejected, []);
  });

  it("returns failure with NATIX's error_message", async () => {
    natix.statusScript = [{ status: "pending" }, { status: "failed", error_message: "model_card.json not found" }];
    const out = await registerWithNatix(opts());
    assert.equal(out.status, "failed");
    assert.equal(out.status === "failed" && out.errorMessage, "model_card.json not found");
  });

  it("keeps polling through unknown statuses, malformed JSON and 5xx", async () => {
    events.length = 0;
    natix.statusScript = [
      { status: "verifying-weights" },
      { body: "{not json" },
      { status: 502, body: "bad gateway" },
      { status: "succeeded" },
    ];
    const out = await registerWithNatix(opts());
    assert.equal(out.status, "succeeded");
    assert.ok(events.includes("natix.status.unknown"));
    assert.ok(events.includes("natix.status.malformed"));
    assert.ok(events.includes("natix.status.http_error"));
  });

  it("gives up at the deadline when stuck in pending", async () => {
    natix.statusScript = [{ status: "pending" }];
    const t = Date.now();
    await assert.rejects(registerWithNatix({ ...opts(), deadlineMs: 400 }), (e: unknown) => {
      assert.ok(e instanceof NatixRegistrationError);
      assert.equal(e.kind, "timeout");
      assert.match(e.message, /did not settle within 0 s \(last status: pending\)/);
      return true;
    });
    // Budgets are generous (the 400 ms deadline, not 180 s or forever, is what ends it), so a loaded CI passes.
    assert.ok(Date.now() - t < 10_000);
  });

  it("a hung status endpoint cannot outlive the deadline", async () => {
    // The status endpoint hangs far past the deadline; the per-request timeout is longer than the deadline too, so
    // only the deadline can end the poll (the POST gets a budget a loaded machine meets).
    const hangMs = 60_000;
    natix.statusDelayMs = hangMs;
    const t = Date.now();
    try {
      await assert.rejects(
        registerWithNatix({ ...opts(), deadlineMs: 2_000, requestTimeoutMs: 30_000 }),
        (e: unknown) => {
          assert.ok(e instanceof NatixRegistrationError && e.kind === "timeout");
          assert.match(e.message, /last status: network error/);
          return true;
        },
      );
    } finally {
      natix.statusDelayMs = 0;
    }
    assert.ok(Date.now() - t < hangMs / 2, "ended by the deadline, not by the hung endpoint");
  });

  it("retries the POST on 5xx, then succeeds", async () => {
    natix.registerFaults = [
      { status: 503, body: "unavailable" },
      { status: 500, body: '{"detail":"boom"}' },
    ];
    natix.statusScript = [{ status: "succeeded" }];
    const before = natix.registrations.length;
    const out = await registerWithNatix(opts());
    assert.equal(out.status, "succeeded");
    assert.equal(natix.registrations.length, before + 1);
  });

  it("surfaces a rejected POST with the server's detail (bad signature)", async () => {
    const impostor = {
      address: hotkey.address,
      sign: (m: Uint8Array) => new Keyring({ type: "sr25519" }).addFromUri("//Eve").sign(m),
    };
    await assert.rejects(
      registerWithNatix({ ...opts(), hotkey: impostor }),
      /rejected the registration \(HTTP 400\): invalid signature/,
    );
  });

  it("reports an unreachable service clearly", async () => {
    await assert.rejects(
      registerWithNatix({ ...opts(), baseUrl: "http://127.0.0.1:9", postAttempts: 2 }),
      (e: unknown) => e instanceof NatixRegistrationError && e.kind === "unavailable" && /unreachable/.test(e.message),
    );
  });
});
