// A point-in-time view of a subnet's neurons: what the axon's blacklist and priority decide from.
// Produced by the chain reader in production and loaded from a JSON file offline (`roadwork serve --metagraph`).
import { readFile } from "node:fs/promises";
import { z } from "zod";

export const SnapshotNeuronSchema = z.object({
  uid: z.number().int().min(0).max(65535),
  hotkey: z.string().min(40).max(60),
  coldkey: z.string().min(40).max(60).optional(),
  /** Total stake in TAO-equivalent units (rao / 1e9). */
  stake: z.number().finite().min(0),
  validatorPermit: z.boolean(),
  active: z.boolean().optional(),
  incentive: z.number().finite().min(0).max(1).optional(),
  emission: z.number().finite().min(0).optional(),
  lastUpdate: z.number().int().min(0).optional(),
  /** Block the uid was (re)registered at; with ImmunityPeriod it gives the immunity left. */
  blockAtRegistration: z.number().int().min(0).optional(),
  axon: z
    .object({
      ip: z.string(),
      port: z.number().int().min(0).max(65535),
      ipType: z.union([z.literal(4), z.literal(6)]),
      protocol: z.number().int().min(0).max(255),
      version: z.number().int().min(0),
      block: z.number().int().min(0),
    })
    .optional(),
});

export const MetagraphSnapshotSchema = z.object({
  netuid: z.number().int().min(0).max(65535),
  block: z.number().int().min(0),
  /** Unix ms when the snapshot was read; absent in hand-written files. */
  takenAt: z.number().int().optional(),
  neurons: z.array(SnapshotNeuronSchema),
});

export type SnapshotNeuron = z.infer<typeof SnapshotNeuronSchema>;
export type MetagraphSnapshotData = z.infer<typeof MetagraphSnapshotSchema>;

/** Indexed, immutable snapshot: O(1) lookup by hotkey for the hot path. */
export class MetagraphSnapshot {
  readonly #byHotkey: ReadonlyMap<string, SnapshotNeuron>;

  constructor(readonly data: MetagraphSnapshotData) {
    this.#byHotkey = new Map(data.neurons.map((n) => [n.hotkey, n]));
  }

  get netuid(): number {
    return this.data.netuid;
  }

  get block(): number {
    return this.data.block;
  }

  get size(): number {
    return this.data.neurons.length;
  }

  neuron(hotkey: string): SnapshotNeuron | undefined {
    return this.#byHotkey.get(hotkey);
  }

  static parse(json: unknown, source = "metagraph snapshot"): MetagraphSnapshot {
    const parsed = MetagraphSnapshotSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
      throw new Error(`${source} is not a valid metagraph snapshot: ${issues}. See docs/metagraph-snapshot.md.`);
    }
    return new MetagraphSnapshot(parsed.data);
  }

  static async load(path: string): Promise<MetagraphSnapshot> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      throw new Error(`cannot read metagraph snapshot ${path}: ${(error as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new Error(`metagraph snapshot ${path} is not JSON: ${(error as Error).message}`);
    }
    return MetagraphSnapshot.parse(json, path);
  }
}
