// Encoding serve_axon without a node: the subtensor runtime metadata that @bitgo/sdk-coin-tao ships (mainnet spec 219,
// testnet spec 224, both with their genesis hash) gives a type registry in which the call can be built and decoded
// back exactly as a node's metadata would. Used by `roadwork serve-axon --dry-run`; the package is a development
// dependency, so the runtime image does not carry its ~1.8 MB of metadata.
import "./polkadot-env.ts";
import { createRequire } from "node:module";
import { Metadata, TypeRegistry } from "@polkadot/types";
import { decorateExtrinsics } from "@polkadot/types/metadata/decorate";
import { registerSubtensorTypes } from "./runtime-types.ts";
import type { ServeAxonParams } from "./serve-axon.ts";
import { SUBTENSOR_SIGNED_EXTENSIONS } from "./signed-extensions.ts";

export type OfflineNetwork = "mainnet" | "testnet";

export interface OfflineRuntime {
  network: OfflineNetwork;
  specName: string;
  specVersion: number;
  txVersion: number;
  genesisHash: string;
  /** Where the metadata came from, for the operator. */
  source: string;
  registry: TypeRegistry;
  metadata: Metadata;
}

const PACKAGE = "@bitgo/sdk-coin-tao";

export function loadOfflineRuntime(network: OfflineNetwork): OfflineRuntime {
  const require = createRequire(import.meta.url);
  let material: Record<string, string> | undefined;
  try {
    const module = require(`${PACKAGE}/dist/src/resources/${network}.js`) as Record<string, Record<string, string>>;
    material = module[`${network}Material`];
  } catch {
    throw new Error(
      `the bundled ${network} runtime metadata (${PACKAGE}, a development dependency) is not installed: run 'npm ci' ` +
        "in the repository, or pass --endpoint <ws url> to encode against a node",
    );
  }
  if (!material?.metadata) throw new Error(`${PACKAGE} has no ${network} runtime metadata`);
  const registry = new TypeRegistry();
  const metadata = new Metadata(registry, material.metadata as `0x${string}`);
  registry.setMetadata(metadata, undefined, SUBTENSOR_SIGNED_EXTENSIONS, true);
  registerSubtensorTypes(registry);
  let version = "";
  try {
    version = (require(`${PACKAGE}/package.json`) as { version?: string }).version ?? "";
  } catch {
    // version is only shown to the operator
  }
  return {
    network,
    specName: material.specName ?? "node-subtensor",
    specVersion: Number(material.specVersion),
    txVersion: Number(material.txVersion),
    genesisHash: material.genesisHash ?? "",
    source: `${PACKAGE}${version ? `@${version}` : ""}`,
    registry,
    metadata,
  };
}

/** The serve_axon call encoded in an offline runtime, with its decoded form read back from the bytes. */
export function encodeServeAxonOffline(
  runtime: OfflineRuntime,
  params: ServeAxonParams,
): { hex: string; decoded: { section: string; method: string; args: Record<string, string> } } {
  const tx = decorateExtrinsics(runtime.registry, runtime.metadata.asLatest, runtime.metadata.version);
  const serveAxon = tx.subtensorModule?.serveAxon;
  if (!serveAxon) throw new Error(`${runtime.network} spec ${runtime.specVersion} has no SubtensorModule.serve_axon`);
  const call = serveAxon(
    params.netuid,
    params.version,
    params.ip,
    params.port,
    params.ipType,
    params.protocol,
    params.placeholder1,
    params.placeholder2,
  );
  const hex = call.toHex();
  const back = runtime.registry.createType("Call", hex);
  const args: Record<string, string> = {};
  back.meta.args.forEach((arg, i) => {
    args[arg.name.toString()] = back.args[i]?.toString() ?? "";
  });
  return { hex, decoded: { section: back.section, method: back.method, args } };
}
