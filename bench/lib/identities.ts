// Who talks to whom in the benchmark: one miner hotkey, a few validator hotkeys that sign real sr25519 requests, and
// the metagraph snapshot that registers those validators with a permit (so the axon's blacklist admits them).
import { writeFile } from "node:fs/promises";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import type { DendriteSigner } from "@roadwork/protocol";

export interface Identities {
  minerHotkey: string;
  validators: DendriteSigner[];
}

export async function benchIdentities(validatorCount: number): Promise<Identities> {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const miner = keyring.addFromUri("//RoadworkBenchMiner");
  const validators = Array.from({ length: validatorCount }, (_, i) => {
    const pair = keyring.addFromUri(`//RoadworkBenchValidator${i}`);
    return { address: pair.address, sign: (message: Uint8Array) => pair.sign(message) };
  });
  return { minerHotkey: miner.address, validators };
}

/** A snapshot file in the format `@roadwork/chain` reads: the miner at uid 0, validators with permits after it. */
export async function writeMetagraph(path: string, ids: Identities): Promise<void> {
  const neurons = [
    { uid: 0, hotkey: ids.minerHotkey, stake: 0, validatorPermit: false },
    ...ids.validators.map((v, i) => ({ uid: i + 1, hotkey: v.address, stake: 50_000 + i, validatorPermit: true })),
  ];
  await writeFile(path, JSON.stringify({ netuid: 72, block: 1, takenAt: Date.now(), neurons }, null, 2));
}
