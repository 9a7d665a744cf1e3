// Who talks to whom in the benchmark: one miner hotkey, a few validator hotkeys that sign real sr25519 requests, and
// the metagraph snapshot that registers those validators with a permit (so the axon's blacklist admits them).
import { writeFile } from "node:fs/promises";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { Dendrite, type DendriteSigner } from "@roadwork/protocol";

export interface Identities {
  minerHotkey: string;
  validators: DendriteSigner[];
}

export async function benchIdentities(validatorCount: number): Promise<Identities> {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const miner = keyring.addFromUri("//RoadworkBenchMiner");
  const validators = Array.from({ length: validatorCount }, (_, i) => {
    return signerOf(keyring.addFromUri(`//RoadworkBenchValidator${i}`));
  });
  return { minerHotkey: miner.address, validators };
}

/** A key as a request signer (sr25519 over the message the dendrite builds). */
export function signerOf(pair: KeyringPair): DendriteSigner {
  return { address: pair.address, sign: (message: Uint8Array) => pair.sign(message) };
}

/** A validator's dendrite (its own uuid, as one validator process has) signing with `pair`. */
export function dendriteOf(pair: KeyringPair): Dendrite {
  return new Dendrite({ signer: signerOf(pair) });
}

export interface SnapshotNeuron {
  uid: number;
  hotkey: string;
  stake: number;
  validatorPermit: boolean;
}

/** A metagraph snapshot file in the format `@roadwork/chain` (and `roadwork serve --metagraph`) reads. */
export async function writeSnapshot(path: string, neurons: SnapshotNeuron[], netuid = 323, block = 0): Promise<void> {
  await writeFile(path, JSON.stringify({ netuid, block, takenAt: Date.now(), neurons }, null, 2));
}

/** A snapshot file of the miner at uid 0, validators with permits after it. */
export async function writeMetagraph(path: string, ids: Identities): Promise<void> {
  await writeSnapshot(
    path,
    [
      { uid: 0, hotkey: ids.minerHotkey, stake: 0, validatorPermit: false },
      ...ids.validators.map((v, i) => ({ uid: i + 1, hotkey: v.address, stake: 50_000 + i, validatorPermit: true })),
    ],
    72,
    1,
  );
}
