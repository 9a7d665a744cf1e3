import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";
import { Keyring } from "@polkadot/keyring";
import { u8aToHex } from "@polkadot/util";
import { cryptoWaitReady, mnemonicGenerate, mnemonicToMiniSecret, sr25519Verify } from "@polkadot/util-crypto";
import { Hotkey, HotkeyError, hotkeySourceFromEnv, loadHotkey, walletHotkeyPath } from "../src/keys.ts";

const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

describe("loadHotkey", () => {
  let dir: string;
  let mnemonic: string;
  let seedHex: string;
  let address: string;
  const keyring = () => new Keyring({ type: "sr25519", ss58Format: 42 });

  /** Every rendering of a value or error that could end up in a log. */
  const renderings = (x: unknown) => [
    inspect(x, { depth: 10, showHidden: true }),
    JSON.stringify(x) ?? "",
    String(x),
    x instanceof Error ? `${x.stack}` : "",
  ];
  const assertNoSecret = (x: unknown) => {
    for (const text of renderings(x)) {
      assert.ok(!text.includes(seedHex.slice(2)), `seed leaked: ${text}`);
      assert.ok(!text.includes(mnemonic.split(" ").slice(0, 3).join(" ")), `mnemonic leaked: ${text}`);
    }
  };
  const failure = async (source: Parameters<typeof loadHotkey>[0]) => {
    try {
      await loadHotkey(source);
    } catch (e) {
      assert.ok(e instanceof HotkeyError, String(e));
      assertNoSecret(e);
      return e.message;
    }
    assert.fail("expected loadHotkey to fail");
  };

  async function writeWallet(wallet: string, hotkey: string, content: string) {
    await mkdir(join(dir, wallet, "hotkeys"), { recursive: true });
    await writeFile(join(dir, wallet, "hotkeys", hotkey), content);
  }

  before(async () => {
    await cryptoWaitReady();
    dir = await mkdtemp(join(tmpdir(), "roadwork-keys-"));
    mnemonic = mnemonicGenerate(12);
    seedHex = u8aToHex(mnemonicToMiniSecret(mnemonic));
    address = keyring().addFromUri(mnemonic).address;
    const pair = keyring().addFromUri(mnemonic);
    // The layout btwallet writes for an unencrypted hotkey (privateKey omitted: it is not read).
    await writeWallet(
      "miner",
      "default",
      JSON.stringify({
        accountId: u8aToHex(pair.publicKey),
        publicKey: u8aToHex(pair.publicKey),
        secretPhrase: mnemonic,
        secretSeed: seedHex,
        ss58Address: address,
      }),
    );
    await writeWallet("miner", "phrase-only", JSON.stringify({ secretPhrase: mnemonic, ss58Address: address }));
    await writeWallet("miner", "wrong-address", JSON.stringify({ secretSeed: seedHex, ss58Address: ALICE }));
    await writeWallet("miner", "encrypted", `$NACL${Buffer.from(mnemonic).toString("base64")}`);
    await writeWallet("miner", "garbage", `${mnemonic} not json`);
    await writeWallet("miner", "empty-secrets", JSON.stringify({ ss58Address: address }));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("derives the same key from the seed (with or without 0x) and from the mnemonic", async () => {
    const a = await loadHotkey({ seedHex });
    const b = await loadHotkey({ seedHex: seedHex.slice(2).toUpperCase() });
    const c = await loadHotkey({ mnemonic: `  ${mnemonic}\n` });
    assert.equal(a.address, address);
    assert.equal(b.address, address);
    assert.equal(c.address, address);
    assert.deepEqual(a.publicKey, keyring().addFromUri(mnemonic).publicKey);
  });

  it("supports derivation paths and dev keys", async () => {
    const derived = await loadHotkey({ mnemonic: `${mnemonic}//hot/0` });
    assert.equal(derived.address, keyring().addFromUri(`${mnemonic}//hot/0`).address);
    assert.notEqual(derived.address, address);
    assert.equal((await loadHotkey({ mnemonic: "//Alice" })).address, ALICE);
  });

  it("signs raw bytes with sr25519", async () => {
    const key = await loadHotkey({ seedHex });
    const msg = new TextEncoder().encode("1767225600");
    const sig = key.sign(msg);
    assert.equal(sig.length, 64);
    assert.ok(sr25519Verify(msg, sig, key.publicKey));
    assert.equal(key.pair.address, address);
  });

  it("reads a bittensor wallet hotkey file and checks its address", async () => {
    assert.equal((await loadHotkey({ walletPath: dir, walletName: "miner" })).address, address);
    assert.equal(
      (await loadHotkey({ walletPath: dir, walletName: "miner", hotkeyName: "phrase-only" })).address,
      address,
    );
    const wrong = await failure({ walletPath: dir, walletName: "miner", hotkeyName: "wrong-address" });
    assert.match(wrong, new RegExp(`derives to ${address} but the file says ss58Address ${ALICE}`));
  });

  it("explains encrypted, non-JSON, incomplete and missing files without quoting them", async () => {
    assert.match(
      await failure({ walletPath: dir, walletName: "miner", hotkeyName: "encrypted" }),
      /is encrypted; roadwork needs an unencrypted hotkey file/,
    );
    assert.match(await failure({ walletPath: dir, walletName: "miner", hotkeyName: "garbage" }), /is not JSON/);
    assert.match(
      await failure({ walletPath: dir, walletName: "miner", hotkeyName: "empty-secrets" }),
      /neither secretSeed nor secretPhrase/,
    );
    assert.match(
      await failure({ walletPath: dir, walletName: "miner", hotkeyName: "absent" }),
      /hotkey file not found: .*miner\/hotkeys\/absent/,
    );
    assert.match(
      await failure({ walletPath: dir, walletName: "../miner", hotkeyName: "default" }),
      /wallet name "..\/miner" must be/,
    );
    assert.match(await failure({ walletPath: dir, walletName: "miner", hotkeyName: ".." }), /hotkey name/);
  });

  it("rejects bad seeds and mnemonics without echoing them", async () => {
    assert.match(await failure({ seedHex: seedHex.slice(0, -2) }), /must be 32 bytes of hex/);
    assert.match(await failure({ seedHex: `${seedHex.slice(0, -1)}z` }), /must be 32 bytes of hex/);
    const words = mnemonic.split(" ");
    assert.match(await failure({ mnemonic: words.slice(0, 11).join(" ") }), /not a valid BIP39 phrase/);
    assert.match(await failure({ mnemonic: [...words.slice(0, 11), "zzzz"].join(" ") }), /not a valid BIP39 phrase/);
    assert.match(await failure({ mnemonic: "   " }), /is empty/);
  });

  it("needs exactly one source", async () => {
    assert.match(await failure({}), /no hotkey configured/);
    assert.match(await failure({ walletPath: dir }), /needs a wallet name/);
    assert.match(await failure({ seedHex, mnemonic }), /several hotkey sources/);
    assert.match(await failure({ hotkeyName: "default" }), /needs a wallet name/);
  });

  it("never shows secrets when printed or serialized", async () => {
    for (const key of [await loadHotkey({ seedHex }), await loadHotkey({ mnemonic })]) {
      assert.ok(key instanceof Hotkey);
      assertNoSecret(key);
      assertNoSecret({ nested: key });
      assertNoSecret(key.pair);
      assert.equal(String(key), `Hotkey(${address})`);
      assert.deepEqual(JSON.parse(JSON.stringify(key)), { address, publicKey: u8aToHex(key.publicKey) });
    }
  });
});

describe("hotkeySourceFromEnv", () => {
  it("maps the ROADWORK_* variables and ignores empty ones", () => {
    assert.deepEqual(hotkeySourceFromEnv({ ROADWORK_HOTKEY_SEED: "0xab", ROADWORK_HOTKEY_MNEMONIC: " " }), {
      seedHex: "0xab",
    });
    assert.deepEqual(hotkeySourceFromEnv({ ROADWORK_HOTKEY_MNEMONIC: "a b c" }), { mnemonic: "a b c" });
    assert.deepEqual(
      hotkeySourceFromEnv({
        ROADWORK_WALLET_PATH: "/w",
        ROADWORK_WALLET_NAME: "miner",
        ROADWORK_WALLET_HOTKEY: "hk",
        OTHER: "x",
      }),
      { walletPath: "/w", walletName: "miner", hotkeyName: "hk" },
    );
    assert.deepEqual(hotkeySourceFromEnv({}), {});
  });

  it("resolves the wallet file path like btcli", () => {
    assert.equal(walletHotkeyPath({ walletPath: "/w", walletName: "miner", hotkeyName: "hk" }), "/w/miner/hotkeys/hk");
    assert.match(walletHotkeyPath({ walletName: "miner" }), /\.bittensor\/wallets\/miner\/hotkeys\/default$/);
    assert.match(walletHotkeyPath({ walletPath: "~/x", walletName: "m" }), /^\/.*\/x\/m\/hotkeys\/default$/);
  });
});
