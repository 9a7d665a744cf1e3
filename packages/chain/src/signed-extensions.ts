// Subtensor's transaction extensions that @polkadot/types does not know. Unknown extensions are treated as empty by
// polkadot-js, which silently produces undecodable extrinsics when one of them carries data
// (ChargeTransactionPaymentWrapper encodes the tip), so we configure them and check every extension the runtime
// declares against its metadata type at startup.
import type { Metadata } from "@polkadot/types";
import { allExtensions } from "@polkadot/types/extrinsic/signedExtensions";
import type { ExtDef } from "@polkadot/types/extrinsic/signedExtensions/types";
import type { Registry } from "@polkadot/types/types";

const EMPTY = { extrinsic: {}, payload: {} };

export const SUBTENSOR_SIGNED_EXTENSIONS: ExtDef = {
  // subtensor HEAD (runtime/src/lib.rs, TxExtension)
  ChargeTransactionPaymentWrapper: { extrinsic: { tip: "Compact<Balance>" }, payload: {} },
  SudoTransactionExtension: EMPTY,
  CheckShieldedTxValidity: EMPTY,
  SubtensorTransactionExtension: EMPTY,
  DrandPriority: EMPTY,
  // older deployed runtimes (spec 219/224)
  SubtensorSignedExtension: EMPTY,
  CommitmentsSignedExtension: EMPTY,
};

export interface SignedExtensionCheck {
  /** Extensions the runtime declares, in order. */
  declared: string[];
  /** Declared and known (built into polkadot-js or configured here) with a matching encoded shape. */
  matched: string[];
  /** Declared but unknown to us: harmless when the runtime type is empty, fatal for signing otherwise. */
  unknown: { name: string; empty: boolean }[];
  /** Known, but the runtime's type encodes differently from what we would send. */
  mismatched: { name: string; detail: string }[];
  /** True when extrinsics we sign will decode on chain. */
  ok: boolean;
}

interface RawExtension {
  identifier: { toString(): string };
  type: { toNumber(): number };
  additional: { toNumber(): number };
}

function declaredExtensions(metadata: Metadata): RawExtension[] {
  const version = metadata.version;
  if (version === 16) {
    return metadata.asV16.extrinsic.transactionExtensions.map((e) => ({
      identifier: e.identifier,
      type: e.type,
      additional: e.implicit,
    }));
  }
  const ext = version === 15 ? metadata.asV15.extrinsic : metadata.asV14.extrinsic;
  return ext.signedExtensions.map((e) => ({ identifier: e.identifier, type: e.type, additional: e.additionalSigned }));
}

// Default-value encoding length is a cheap structural fingerprint: Compact<u64> (1 byte) vs u64 (8) vs nothing (0).
function lookupDefaultLength(registry: Registry, typeId: number): number {
  return registry.createType(registry.createLookupType(typeId) as "Raw").toU8a().length;
}

function fieldsDefaultLength(registry: Registry, fields: Record<string, string>): number {
  return Object.values(fields).reduce((sum, type) => sum + registry.createType(type as "Raw").toU8a().length, 0);
}

/** Compares the runtime's declared extensions (metadata) with what polkadot-js will encode. */
export function checkSignedExtensions(
  registry: Registry,
  metadata: Metadata,
  userExtensions: ExtDef = SUBTENSOR_SIGNED_EXTENSIONS,
): SignedExtensionCheck {
  const result: SignedExtensionCheck = { declared: [], matched: [], unknown: [], mismatched: [], ok: true };
  for (const ext of declaredExtensions(metadata)) {
    const name = ext.identifier.toString();
    result.declared.push(name);
    const extrinsicLength = lookupDefaultLength(registry, ext.type.toNumber());
    const additionalLength = lookupDefaultLength(registry, ext.additional.toNumber());
    const known = userExtensions[name] ?? allExtensions[name];
    if (!known) {
      const empty = extrinsicLength === 0 && additionalLength === 0;
      result.unknown.push({ name, empty });
      if (!empty) result.ok = false;
      continue;
    }
    const ours = fieldsDefaultLength(registry, known.extrinsic);
    const oursAdditional = fieldsDefaultLength(registry, known.payload);
    if (ours !== extrinsicLength || oursAdditional !== additionalLength) {
      result.mismatched.push({
        name,
        detail: `runtime encodes ${extrinsicLength}+${additionalLength} default bytes, we encode ${ours}+${oursAdditional}`,
      });
      result.ok = false;
    } else {
      result.matched.push(name);
    }
  }
  return result;
}
