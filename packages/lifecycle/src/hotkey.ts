// What lifecycle needs from a hotkey: its ss58 address and sr25519 signing. A @polkadot/keyring pair satisfies it;
// loading the key (file, env, Secrets Manager) is the composition root's job.
import { checkAddress } from "@polkadot/util-crypto";
import { z } from "zod";

export interface HotkeySigner {
  readonly address: string;
  sign(message: Uint8Array): Uint8Array;
}

/** Substrate generic prefix, used by Bittensor for every ss58 address. */
export const BITTENSOR_SS58_PREFIX = 42;

export const Ss58Address = z.string().superRefine((value, ctx) => {
  const [ok, reason] = checkAddress(value, BITTENSOR_SS58_PREFIX);
  if (!ok) ctx.addIssue({ code: "custom", message: `not a Bittensor ss58 address (prefix 42): ${reason ?? value}` });
});
