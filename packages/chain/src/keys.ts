// The miner's hotkey: loaded once at startup from a raw seed, a mnemonic or a bittensor wallet file.
// Secrets never leave this module: errors name the source, never its content, and the Hotkey prints as its address.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { u8aToHex } from "@polkadot/util";
import { cryptoWaitReady, mnemonicValidate } from "@polkadot/util-crypto";
import { z } from "zod";

export interface HotkeySource {
  /** 32-byte sr25519 mini-secret as hex (the wallet file's `secretSeed`), with or without 0x. */
  seedHex?: string;
  /** BIP39 phrase, optionally followed by a derivation path ("<words>//hot"); "//Alice" selects a dev key. */
  mnemonic?: string;
  /** Folder of bittensor wallets (default ~/.bittensor/wallets). */
  walletPath?: string;
  walletName?: string;
  /** Hotkey file name inside `<wallet>/hotkeys/` (default "default", as in btcli). */
  hotkeyName?: string;
}

/** A failure to load the hotkey; the message says what to fix and never contains secret material. */
export class HotkeyError extends Error {
  override readonly name = "HotkeyError";
}

/** An sr25519 hotkey (ss58 prefix 42). Printing or serializing it shows only the address. */
export class Hotkey {
  readonly #pair: KeyringPair;

  constructor(pair: KeyringPair) {
    if (pair.type !== "sr25519") throw new HotkeyError("hotkeys are sr25519 keys");
    this.#pair = pair;
  }

  get address(): string {
    return this.#pair.address;
  }

  get publicKey(): Uint8Array {
    return this.#pair.publicKey;
  }

  /** The keyring pair, for @polkadot/api extrinsics. */
  get pair(): KeyringPair {
    return this.#pair;
  }

  /** sr25519 signature (64 bytes) of the raw bytes; no <Bytes> wrapping. */
  sign(message: Uint8Array): Uint8Array {
    return this.#pair.sign(message);
  }

  toJSON(): { address: string; publicKey: string } {
    return { address: this.address, publicKey: u8aToHex(this.publicKey) };
  }

  toString(): string {
    return `Hotkey(${this.address})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

const SEED_RE = /^(?:0x)?[0-9a-fA-F]{64}$/;
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
const ENCRYPTED_PREFIXES = ["$NACL", "$ANSIBLE_VAULT", "$BT", "gAAAAA"];

const WalletHotkeyFile = z.object({
  secretPhrase: z.string().nullish(),
  secretSeed: z.string().nullish(),
  ss58Address: z.string(),
});

function keyring(): Keyring {
  return new Keyring({ type: "sr25519", ss58Format: 42 });
}

function fromSeed(seedHex: string, what: string): KeyringPair {
  const trimmed = seedHex.trim();
  if (!SEED_RE.test(trimmed)) throw new HotkeyError(`${what} must be 32 bytes of hex (64 hex digits, optional 0x)`);
  const hex = trimmed.startsWith("0x") ? trimmed : `0x${trimmed}`;
  // A 32-byte hex "URI" is the sr25519 mini-secret itself (same as addFromSeed), without adding it to a keyring.
  return keyring().createFromUri(hex, {}, "sr25519");
}

function fromMnemonic(suri: string, what: string): KeyringPair {
  const trimmed = suri.trim();
  const slash = trimmed.indexOf("/");
  const phrase = (slash === -1 ? trimmed : trimmed.slice(0, slash)).trim();
  if (phrase !== "" && !mnemonicValidate(phrase)) {
    throw new HotkeyError(`${what} is not a valid BIP39 phrase (check the words and their count)`);
  }
  if (phrase === "" && !trimmed.startsWith("//")) throw new HotkeyError(`${what} is empty`);
  try {
    return keyring().createFromUri(trimmed, {}, "sr25519");
  } catch {
    throw new HotkeyError(`${what} could not be turned into a key (check the derivation path)`);
  }
}

async function fromWalletFile(path: string): Promise<KeyringPair> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new HotkeyError(`hotkey file not found: ${path} (create it with btcli wallet new_hotkey)`);
    throw new HotkeyError(`cannot read hotkey file ${path} (${code ?? "read error"})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input; it must not reach the log.
    const start = text.trimStart();
    if (ENCRYPTED_PREFIXES.some((p) => start.startsWith(p))) {
      throw new HotkeyError(
        `hotkey file ${path} is encrypted; roadwork needs an unencrypted hotkey file (btcli creates hotkeys unencrypted by default), or pass the seed through ROADWORK_HOTKEY_SEED`,
      );
    }
    throw new HotkeyError(`hotkey file ${path} is not JSON (is it encrypted?)`);
  }
  const parsed = WalletHotkeyFile.safeParse(data);
  if (!parsed.success) {
    throw new HotkeyError(`hotkey file ${path} lacks ss58Address or has fields of the wrong type`);
  }
  const file = parsed.data;
  let pair: KeyringPair;
  if (file.secretSeed) pair = fromSeed(file.secretSeed, `secretSeed in ${path}`);
  else if (file.secretPhrase) pair = fromMnemonic(file.secretPhrase, `secretPhrase in ${path}`);
  else throw new HotkeyError(`hotkey file ${path} holds neither secretSeed nor secretPhrase`);
  if (pair.address !== file.ss58Address) {
    throw new HotkeyError(
      `hotkey file ${path}: the key derives to ${pair.address} but the file says ss58Address ${file.ss58Address}`,
    );
  }
  return pair;
}

/** Where a wallet hotkey file lives: `<walletPath>/<walletName>/hotkeys/<hotkeyName>`. */
export function walletHotkeyPath(source: HotkeySource): string {
  const walletName = source.walletName ?? "";
  const hotkeyName = source.hotkeyName ?? "default";
  for (const [label, name] of [
    ["wallet name", walletName],
    ["hotkey name", hotkeyName],
  ] as const) {
    if (!NAME_RE.test(name) || name === "." || name === "..") {
      throw new HotkeyError(`${label} "${name}" must be 1-64 letters, digits, '_', '-' or '.'`);
    }
  }
  let base = source.walletPath ?? join(homedir(), ".bittensor", "wallets");
  if (base === "~" || base.startsWith("~/")) base = join(homedir(), base.slice(1));
  return join(base, walletName, "hotkeys", hotkeyName);
}

/** Loads the hotkey from exactly one source: a seed, a mnemonic, or a wallet (name + hotkey). */
export async function loadHotkey(source: HotkeySource): Promise<Hotkey> {
  await cryptoWaitReady();
  const wallet = source.walletName !== undefined || source.hotkeyName !== undefined;
  const given = [source.seedHex !== undefined, source.mnemonic !== undefined, wallet].filter(Boolean).length;
  if (given === 0) {
    if (source.walletPath !== undefined) {
      throw new HotkeyError(
        "a wallet path needs a wallet name (ROADWORK_WALLET_NAME) and hotkey (ROADWORK_WALLET_HOTKEY)",
      );
    }
    throw new HotkeyError(
      "no hotkey configured: set ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC, or ROADWORK_WALLET_NAME and ROADWORK_WALLET_HOTKEY",
    );
  }
  if (given > 1) throw new HotkeyError("several hotkey sources given: set exactly one of seed, mnemonic or wallet");
  if (source.seedHex !== undefined) return new Hotkey(fromSeed(source.seedHex, "the hotkey seed"));
  if (source.mnemonic !== undefined) return new Hotkey(fromMnemonic(source.mnemonic, "the hotkey mnemonic"));
  if (source.walletName === undefined)
    throw new HotkeyError("a hotkey name needs a wallet name (ROADWORK_WALLET_NAME)");
  return new Hotkey(await fromWalletFile(walletHotkeyPath(source)));
}

/**
 * The hotkey source named by the environment: ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC, or
 * ROADWORK_WALLET_PATH (optional) + ROADWORK_WALLET_NAME + ROADWORK_WALLET_HOTKEY. Empty values count as unset.
 */
export function hotkeySourceFromEnv(env: Record<string, string | undefined> = process.env): HotkeySource {
  const get = (k: string) => {
    const v = env[k];
    return v === undefined || v.trim() === "" ? undefined : v;
  };
  const source: HotkeySource = {};
  const seedHex = get("ROADWORK_HOTKEY_SEED");
  const mnemonic = get("ROADWORK_HOTKEY_MNEMONIC");
  const walletPath = get("ROADWORK_WALLET_PATH");
  const walletName = get("ROADWORK_WALLET_NAME");
  const hotkeyName = get("ROADWORK_WALLET_HOTKEY");
  if (seedHex !== undefined) source.seedHex = seedHex;
  if (mnemonic !== undefined) source.mnemonic = mnemonic;
  if (walletPath !== undefined) source.walletPath = walletPath;
  if (walletName !== undefined) source.walletName = walletName;
  if (hotkeyName !== undefined) source.hotkeyName = hotkeyName;
  return source;
}
