// SCALE layouts of the subtensor runtime-API results we decode by hand (metadata v14 carries no runtime-API types).
// Field order follows subtensor's `#[freeze_struct]` definitions; see docs/chain.md.
import type { Registry } from "@polkadot/types/types";

export const SUBTENSOR_RUNTIME_TYPES = {
  BtAxonInfo: {
    block: "u64",
    version: "u32",
    ip: "u128",
    port: "u16",
    ip_type: "u8",
    protocol: "u8",
    placeholder1: "u8",
    placeholder2: "u8",
  },
  BtPrometheusInfo: { block: "u64", version: "u32", ip: "u128", port: "u16", ip_type: "u8" },
  BtNeuronInfoLite: {
    hotkey: "AccountId32",
    coldkey: "AccountId32",
    uid: "Compact<u16>",
    netuid: "Compact<u16>",
    active: "bool",
    axon_info: "BtAxonInfo",
    prometheus_info: "BtPrometheusInfo",
    stake: "Vec<(AccountId32,Compact<u64>)>",
    rank: "Compact<u16>",
    emission: "Compact<u64>",
    incentive: "Compact<u16>",
    consensus: "Compact<u16>",
    trust: "Compact<u16>",
    validator_trust: "Compact<u16>",
    dividends: "Compact<u16>",
    last_update: "Compact<u64>",
    validator_permit: "bool",
    pruning_score: "Compact<u16>",
  },
  BtSubnetState: {
    netuid: "Compact<u16>",
    hotkeys: "Vec<AccountId32>",
    coldkeys: "Vec<AccountId32>",
    active: "Vec<bool>",
    validator_permit: "Vec<bool>",
    pruning_score: "Vec<Compact<u16>>",
    last_update: "Vec<Compact<u64>>",
    emission: "Vec<Compact<u64>>",
    dividends: "Vec<Compact<u16>>",
    incentives: "Vec<Compact<u16>>",
    consensus: "Vec<Compact<u16>>",
    trust: "Vec<Compact<u16>>",
    rank: "Vec<Compact<u16>>",
    block_at_registration: "Vec<Compact<u64>>",
    alpha_stake: "Vec<Compact<u64>>",
    tao_stake: "Vec<Compact<u64>>",
    total_stake: "Vec<Compact<u64>>",
    emission_history: "Vec<Vec<Compact<u64>>>",
  },
} as const;

/** Result type of each runtime API we call through `state_call`. */
export const RUNTIME_API_RESULTS = {
  NeuronInfoRuntimeApi_get_neurons_lite: "Vec<BtNeuronInfoLite>",
  SubnetInfoRuntimeApi_get_subnet_state: "Option<BtSubnetState>",
} as const;

export type RuntimeApiMethod = keyof typeof RUNTIME_API_RESULTS;

export function registerSubtensorTypes(registry: Registry): void {
  registry.register(SUBTENSOR_RUNTIME_TYPES as unknown as Parameters<Registry["register"]>[0]);
}
