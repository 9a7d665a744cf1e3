// Which hotkeys the container serves, and on which port each: the hotkey secret (Secrets Manager, handed over by ECS
// as ROADWORK_HOTKEY_SECRET) holds one hotkey — {"seedHex"} or {"mnemonic"}, the shape the lifecycle functions read
// too — or a list, {"hotkeys": [{"mnemonic"|"seedHex", "port"?, "ss58Address"?}, …]}, for an operator who runs several
// hotkeys on one host (one model, one image cache). The ports are the stage's (ROADWORK_PORTS, from stacks/config.ts:
// the security group opens exactly those), so the secret may pin an entry to one of them but never add one.
// Problems are returned as text naming the entry and field; nothing from the secret's values ever appears in them.
import type { HotkeySource } from "@roadwork/chain/keys";
import { z } from "zod";

/** One hotkey of the container and its public port. */
export interface HotkeyMember {
  source: HotkeySource;
  port: number;
  /** When set, the loaded hotkey must derive to this address (catches a wrong secret before serving). */
  expectedAddress: string | undefined;
}

/** Enough for every hotkey an operator would put on one GPU host (one H200 served 512 in the benchmark). */
export const MAX_HOTKEYS = 32;

const SS58 = /^[1-9A-HJ-NP-Za-km-z]{46,48}$/;
const SEED_HEX = /^(0x)?[0-9a-fA-F]{64}$/;

const key = {
  seedHex: z.string().regex(SEED_HEX).optional(),
  mnemonic: z.string().min(1).optional(),
};
const SingleSchema = z.strictObject(key);
const EntrySchema = z.strictObject({
  ...key,
  port: z.number().int().min(1).max(65535).optional(),
  ss58Address: z.string().regex(SS58).optional(),
});
const ListSchema = z.strictObject({ hotkeys: z.array(z.unknown()).min(1).max(MAX_HOTKEYS) });

export const SECRET_SHAPE =
  'store {"seedHex":"0x<64 hex digits>"} or {"mnemonic":"<12-24 words>"} in the secret, or for several hotkeys ' +
  '{"hotkeys":[{"mnemonic":"…","port":8091},{"seedHex":"0x…"}]} (port optional: the stage\'s ports in order)';

/** Zod paths only: an issue's message or received value could quote the secret. */
const where = (path: readonly PropertyKey[]) =>
  path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");

type KeyOnly = { seedHex?: string | undefined; mnemonic?: string | undefined };

function sourceOf(k: KeyOnly): HotkeySource | undefined {
  if ((k.seedHex === undefined) === (k.mnemonic === undefined)) return undefined;
  return k.seedHex !== undefined ? { seedHex: k.seedHex } : { mnemonic: k.mnemonic as string };
}

/** Parses the secret's text into its entries (port and address as written); a string array is a list of problems. */
export function parseHotkeySecret(
  raw: string,
): { source: HotkeySource; port: number | undefined; ss58Address: string | undefined }[] | string[] {
  const name = "ROADWORK_HOTKEY_SECRET";
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    // JSON.parse's message quotes the input: never surface it.
    return [`${name}: is not JSON; ${SECRET_SHAPE}`];
  }
  const isList = typeof json === "object" && json !== null && "hotkeys" in json;
  if (!isList) {
    const single = SingleSchema.safeParse(json);
    const source = single.success ? sourceOf(single.data) : undefined;
    return source
      ? [{ source, port: undefined, ss58Address: undefined }]
      : [`${name}: has the wrong shape; ${SECRET_SHAPE}`];
  }
  const list = ListSchema.safeParse(json);
  if (!list.success) {
    return [`${name}: "hotkeys" must be a list of 1 to ${MAX_HOTKEYS} entries and the only field; ${SECRET_SHAPE}`];
  }
  const problems: string[] = [];
  const entries: { source: HotkeySource; port: number | undefined; ss58Address: string | undefined }[] = [];
  for (const [i, item] of list.data.hotkeys.entries()) {
    const entry = EntrySchema.safeParse(item);
    if (!entry.success) {
      const fields = [...new Set(entry.error.issues.map((issue) => where(issue.path) || "(entry)"))].join(", ");
      problems.push(
        `${name}: hotkeys[${i}] has the wrong shape (${fields}); an entry is {"seedHex"|"mnemonic", "port"?, "ss58Address"?}`,
      );
      continue;
    }
    const source = sourceOf(entry.data);
    if (!source) {
      problems.push(`${name}: hotkeys[${i}] needs exactly one of "seedHex" or "mnemonic"`);
      continue;
    }
    entries.push({ source, port: entry.data.port, ss58Address: entry.data.ss58Address });
  }
  if (problems.length > 0) return problems;
  // The same key twice would announce one hotkey on two ports (the second serve_axon overwrites the first).
  const seen = new Map<string, number>();
  for (const [i, e] of entries.entries()) {
    const id = e.source.seedHex?.replace(/^0x/, "").toLowerCase() ?? e.source.mnemonic?.trim().replace(/\s+/g, " ");
    const first = seen.get(id as string);
    if (first !== undefined) problems.push(`${name}: hotkeys[${first}] and hotkeys[${i}] hold the same key`);
    else seen.set(id as string, i);
  }
  return problems.length > 0 ? problems : entries;
}

/**
 * Gives every hotkey one of the stage's ports: an entry's own port must be one of them; the others take the remaining
 * ports in order. There must be exactly as many hotkeys as ports — an open port nobody answers on is a hole in the
 * security group, and a hotkey without a port is one validators cannot reach.
 */
export function assignPorts(
  entries: readonly { source: HotkeySource; port: number | undefined; ss58Address: string | undefined }[],
  ports: readonly number[],
  portsVariable: string,
): HotkeyMember[] | string[] {
  const declared = ports.join(",");
  if (entries.length !== ports.length) {
    return [
      `ROADWORK_HOTKEY_SECRET: holds ${entries.length} hotkey(s) but the stage opens ${ports.length} port(s) ` +
        `(${portsVariable}=${declared}); declare one port per hotkey (axonPorts in stacks/config.ts, or ` +
        "ROADWORK_AXON_PORTS at deploy) or change the secret's list",
    ];
  }
  const problems: string[] = [];
  const pinned = new Map<number, number>();
  for (const [i, e] of entries.entries()) {
    if (e.port === undefined) continue;
    if (!ports.includes(e.port)) {
      problems.push(
        `ROADWORK_HOTKEY_SECRET: hotkeys[${i}].port ${e.port} is not one of the stage's ports (${portsVariable}=${declared}); ` +
          "the security group opens only those",
      );
    } else if (pinned.has(e.port)) {
      problems.push(
        `ROADWORK_HOTKEY_SECRET: hotkeys[${pinned.get(e.port)}] and hotkeys[${i}] both ask for port ${e.port}`,
      );
    } else pinned.set(e.port, i);
  }
  if (problems.length > 0) return problems;
  const free = ports.filter((p) => !pinned.has(p));
  return entries.map((e) => ({
    source: e.source,
    port: e.port ?? (free.shift() as number),
    expectedAddress: e.ss58Address,
  }));
}
