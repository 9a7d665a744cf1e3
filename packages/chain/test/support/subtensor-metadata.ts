// Real subtensor runtime metadata (mainnet spec 219, testnet spec 224) as shipped by @bitgo/sdk-coin-tao, and a
// registry built from it. The registry's transaction extensions are derived from the metadata itself, independently
// of the table in src/signed-extensions.ts, so tests catch a wrong table.
import "../../src/polkadot-env.ts";
import { createRequire } from "node:module";
import { Metadata, TypeRegistry } from "@polkadot/types";
import { allExtensions } from "@polkadot/types/extrinsic/signedExtensions";
import type { ExtDef } from "@polkadot/types/extrinsic/signedExtensions/types";
import { registerSubtensorTypes } from "../../src/runtime-types.ts";

export type Network = "mainnet" | "testnet";

export interface RuntimeMaterial {
  network: Network;
  chainName: string;
  specName: string;
  specVersion: number;
  txVersion: number;
  genesisHash: string;
  metadataHex: `0x${string}`;
}

const require = createRequire(import.meta.url);

export function loadRuntimeMaterial(network: Network): RuntimeMaterial {
  const module = require(`@bitgo/sdk-coin-tao/dist/src/resources/${network}.js`) as Record<
    string,
    Record<string, string>
  >;
  const m = module[`${network}Material`];
  if (!m?.metadata) throw new Error(`@bitgo/sdk-coin-tao has no ${network} metadata`);
  return {
    network,
    chainName: m.chainName ?? "Bittensor",
    specName: m.specName ?? "node-subtensor",
    specVersion: Number(m.specVersion),
    txVersion: Number(m.txVersion),
    genesisHash: m.genesisHash ?? "",
    metadataHex: m.metadata as `0x${string}`,
  };
}

export interface ChainRegistry {
  registry: TypeRegistry;
  metadata: Metadata;
}

export function createChainRegistry(material: RuntimeMaterial): ChainRegistry {
  const registry = new TypeRegistry();
  const metadata = new Metadata(registry, material.metadataHex);
  const probe = new TypeRegistry();
  probe.setMetadata(new Metadata(probe, material.metadataHex), undefined, undefined, true);
  const derived: ExtDef = {};
  for (const ext of metadata.asV14.extrinsic.signedExtensions) {
    const name = ext.identifier.toString();
    if (allExtensions[name]) continue;
    const size = (id: number) => probe.createType(probe.createLookupType(id) as "Raw").toU8a().length;
    if (size(ext.type.toNumber()) !== 0 || size(ext.additionalSigned.toNumber()) !== 0) {
      throw new Error(`test registry cannot derive extension ${name}: it carries data`);
    }
    derived[name] = { extrinsic: {}, payload: {} };
  }
  registry.setMetadata(metadata, undefined, derived, true);
  registry.setChainProperties(
    registry.createType("ChainProperties", { ss58Format: 42, tokenDecimals: [9], tokenSymbol: ["TAO"] }) as never,
  );
  registerSubtensorTypes(registry);
  return { registry, metadata };
}
