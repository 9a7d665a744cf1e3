// A small, deterministic subnet population for the loopback chain: validators with permits and stake, miners with
// axons, and the miner under test (//Bob by default) at uid 5.
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import type { LoopbackNeuron } from "./loopback-chain.ts";

const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });

export function devKey(uri: string): KeyringPair {
  return keyring.addFromUri(uri);
}

export const OUR_UID = 5;
export const DEMO_NETUID = 323;

/** 198.51.100.23 as the SDK encodes it. */
export const DEMO_IP = 3325256727n;

export function demoNeurons(ourHotkey: string = devKey("//Bob").address): LoopbackNeuron[] {
  const neurons: LoopbackNeuron[] = [];
  for (let uid = 0; uid < 12; uid++) {
    const validator = uid < 3;
    const ours = uid === OUR_UID;
    neurons.push({
      uid,
      hotkey: ours ? ourHotkey : devKey(`//subnet-hotkey-${uid}`).address,
      coldkey: devKey(`//subnet-coldkey-${uid}`).address,
      stakeRao: validator ? BigInt(50_000 - uid * 10_000) * 1_000_000_000n : 1_500_000_000n,
      validatorPermit: validator,
      incentive: validator ? 0 : ours ? 1311 : 2000 + uid,
      emissionRao: validator ? 0n : ours ? 123_456_789n : 200_000_000n,
      lastUpdate: 990,
      blockAtRegistration: ours ? 900 : 100 + uid,
      axon: validator
        ? undefined
        : ours
          ? { block: 905, version: 9012002, ip: DEMO_IP, port: 8091, ipType: 4, protocol: 4 }
          : { block: 500, version: 9012002, ip: 0x0a000000n + BigInt(uid), port: 8091, ipType: 4, protocol: 4 },
    });
  }
  return neurons;
}
