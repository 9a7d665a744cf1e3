// Turns the hotkey secret into a signer through the project's one hotkey loader (sr25519, ss58 prefix 42).
import { loadHotkey } from "@roadwork/chain/keys";
import type { HotkeySigner } from "@roadwork/lifecycle";
import type { HotkeySecret } from "./secrets.ts";

export function loadHotkeyFromSecret(secret: HotkeySecret): Promise<HotkeySigner> {
  return loadHotkey("seedHex" in secret ? { seedHex: secret.seedHex } : { mnemonic: secret.mnemonic });
}
