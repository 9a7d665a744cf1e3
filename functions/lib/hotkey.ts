// Turns the hotkey secret into a signer (sr25519, ss58 prefix 42).
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import type { HotkeySigner } from "@roadwork/lifecycle";
import type { HotkeySecret } from "./secrets.ts";

export async function loadHotkeyFromSecret(secret: HotkeySecret): Promise<HotkeySigner> {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const uri =
    "seedHex" in secret
      ? secret.seedHex.startsWith("0x")
        ? secret.seedHex
        : `0x${secret.seedHex}`
      : secret.mnemonic.trim();
  try {
    return keyring.addFromUri(uri);
  } catch {
    throw new Error("the hotkey secret does not hold a valid seed or mnemonic");
  }
}
