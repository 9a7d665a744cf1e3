// Caller admission from UNVERIFIED headers: map lookups only (runs before the signature check, like Python).
// Hotkeys compare as prefix-42 ss58 strings, the form the metagraph uses; verifyRequest refuses any other form.
import type { MetagraphSnapshot } from "@roadwork/chain/snapshot";

export interface BlacklistPolicy {
  requireValidatorPermit: boolean;
  minStake: number;
  allowHotkeys: readonly string[];
  denyHotkeys: readonly string[];
}

/** Admitted caller; `stake` orders the scoring queue. */
export interface Caller {
  hotkey: string;
  uid: number | undefined;
  stake: number;
}

export type BlacklistDecision = { admitted: true; caller: Caller } | { admitted: false; reason: string };

export class Blacklist {
  readonly #allow: ReadonlySet<string>;
  readonly #deny: ReadonlySet<string>;

  constructor(readonly policy: BlacklistPolicy) {
    this.#allow = new Set(policy.allowHotkeys);
    this.#deny = new Set(policy.denyHotkeys);
  }

  /** `reason` completes Python's "Forbidden. Key is blacklisted: <reason>." */
  check(hotkey: string | undefined, snapshot: MetagraphSnapshot): BlacklistDecision {
    if (!hotkey) return { admitted: false, reason: "Missing dendrite or hotkey" };
    if (this.#deny.has(hotkey)) return { admitted: false, reason: "Hotkey is on the deny list" };
    const neuron = snapshot.neuron(hotkey);
    if (this.#allow.has(hotkey))
      return { admitted: true, caller: { hotkey, uid: neuron?.uid, stake: neuron?.stake ?? 0 } };
    // Python answers 500 here by accident (metagraph.hotkeys.index raises); 403 is what it intends.
    if (!neuron) return { admitted: false, reason: `Hotkey is not registered on subnet ${snapshot.netuid}` };
    if (this.policy.requireValidatorPermit && !neuron.validatorPermit) {
      return { admitted: false, reason: "Non-validator hotkey" };
    }
    if (neuron.stake < this.policy.minStake) {
      return { admitted: false, reason: `Stake ${neuron.stake} is below the minimum ${this.policy.minStake}` };
    }
    return { admitted: true, caller: { hotkey, uid: neuron.uid, stake: neuron.stake } };
  }
}
