// The local network `roadwork start` and `roadwork simulate` share: keys derived from one seed file, the metagraph
// snapshot, validators that sign real requests, the attacker, the scoreboard loop. Loaded only when they run.
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Hotkey, loadHotkey } from "@roadwork/chain/keys";
import type { MetagraphSnapshotData } from "@roadwork/chain/snapshot";
import { type AxonTarget, Dendrite, type DendriteRequest, type DendriteSigner } from "@roadwork/protocol";
import {
  type Attacker,
  renderScoreboard,
  type Scoreboard,
  type SimulatedValidator,
  type ValidatorSimulator,
} from "@roadwork/training";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** The local data directory: --data-dir, else ROADWORK_DATA_DIR, else `.roadwork/` in the repository. */
export function resolveDataDir(flag?: string): string {
  return resolve(flag ?? process.env.ROADWORK_DATA_DIR ?? join(REPO_ROOT, ".roadwork"));
}

export const localPaths = (dataDir: string) => ({
  seed: join(dataDir, "local-seed"),
  dataset: join(dataDir, "dataset"),
  datasetManifest: join(dataDir, "dataset", "manifest.json"),
  bundle: join(dataDir, "models", "demo"),
  metagraph: join(dataDir, "metagraph.json"),
  logs: join(dataDir, "logs"),
});

export interface LocalKeys {
  miner: Hotkey;
  validators: Hotkey[];
  /** Signs correctly but is not in the metagraph. */
  unregistered: Hotkey;
  /** Registered, but without a validator permit. */
  nonPermit: Hotkey;
}

/** Reads the local seed file, creating it (0600, random) on first use. It never leaves the data directory. */
async function localSeed(path: string): Promise<Buffer> {
  const text = await readFile(path, "utf8").catch(() => undefined);
  if (text !== undefined) {
    const hex = text.trim();
    if (!/^[0-9a-f]{64}$/.test(hex))
      throw new Error(`${path} is not a 32-byte hex seed; delete it to create a new one`);
    return Buffer.from(hex, "hex");
  }
  const seed = randomBytes(32);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${seed.toString("hex")}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return seed;
}

/** Every local key derives from the seed file and a role name, so they are stable across runs. */
export async function localKeys(dataDir: string, validators: number): Promise<LocalKeys> {
  const seed = await localSeed(localPaths(dataDir).seed);
  const derive = (role: string) =>
    loadHotkey({ seedHex: createHash("sha256").update(seed).update(`roadwork-local:${role}`).digest("hex") });
  return {
    miner: await derive("miner"),
    validators: await Promise.all(Array.from({ length: validators }, (_, i) => derive(`validator-${i}`))),
    unregistered: await derive("unregistered"),
    nonPermit: await derive("non-permit"),
  };
}

/** A snapshot with the miner (uid 0), the validators (permits, stake) and one registered non-validator. */
export function localMetagraph(keys: LocalKeys, axonPort: number): MetagraphSnapshotData {
  const axon = { ip: "127.0.0.1", port: axonPort, ipType: 4 as const, protocol: 4, version: 0, block: 0 };
  return {
    netuid: 72,
    block: 1,
    takenAt: Date.now(),
    neurons: [
      { uid: 0, hotkey: keys.miner.address, stake: 0, validatorPermit: false, active: true, axon },
      ...keys.validators.map((v, i) => ({
        uid: i + 1,
        hotkey: v.address,
        stake: 50_000 - i * 5_000,
        validatorPermit: true,
        active: true,
      })),
      {
        uid: keys.validators.length + 1,
        hotkey: keys.nonPermit.address,
        stake: 12,
        validatorPermit: false,
        active: true,
      },
    ],
  };
}

/** Validators that sign real requests with the protocol's Dendrite; their sent requests are kept for replays. */
export function dendriteValidators(
  keys: Hotkey[],
  axon: AxonTarget,
  sent: DendriteRequest[] = [],
  failures?: FailureTally,
): SimulatedValidator[] {
  return keys.map((key, i) => {
    const dendrite = new Dendrite({ signer: key });
    return {
      name: `validator-${i + 1}`,
      hotkey: key.address,
      async challenge(image: Uint8Array) {
        const request = dendrite.buildRequest({ axon, image, timeout: 9 });
        const result = await dendrite.query(request);
        sent.push(request);
        if (sent.length > 50) sent.shift();
        if (result.status !== 200) failures?.add(result.status, result.statusMessage ?? undefined);
        return { status: result.status, prediction: result.prediction, latencyMs: result.roundTripMs };
      },
    };
  });
}

/** Why challenges failed, by status and message, so a run against a wrong or absent axon says why. */
export class FailureTally {
  readonly #counts = new Map<string, number>();
  add(status: number, message: string | undefined): void {
    const key = `HTTP ${status}${message ? ` ${message}` : ""}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }
  get total(): number {
    return [...this.#counts.values()].reduce((a, b) => a + b, 0);
  }
  /** The most frequent reasons, e.g. "326 × HTTP 503 Service unavailable at 127.0.0.1:8091". */
  top(n = 3): string[] {
    return [...this.#counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([reason, count]) => `${count} × ${reason}`);
  }
}

export const ATTACK_KINDS = [
  "unsigned",
  "forged-signature",
  "replayed",
  "unregistered-hotkey",
  "no-validator-permit",
  "stale-nonce",
  "garbage",
] as const;

/** Hostile traffic: everything here must be refused by the axon. */
export function createAttacker(options: {
  axon: AxonTarget;
  keys: LocalKeys;
  image: Uint8Array;
  honestRequests: DendriteRequest[];
}): Attacker {
  const { axon, keys, image } = options;
  const victim = keys.validators[0]!;
  const forger: DendriteSigner = { address: victim.address, sign: (m) => keys.unregistered.sign(m) };
  const dendrites = {
    forged: new Dendrite({ signer: forger }),
    unregistered: new Dendrite({ signer: keys.unregistered }),
    nonPermit: new Dendrite({ signer: keys.nonPermit }),
    stale: new Dendrite({ signer: victim }),
    unsigned: new Dendrite({ signer: keys.unregistered }),
  };
  const post = async (
    url: string,
    headers: Record<string, string>,
    body: string | Uint8Array,
  ): Promise<{ status: number; latencyMs: number }> => {
    const started = performance.now();
    const response = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return { status: response.status, latencyMs: performance.now() - started };
  };
  const send = (r: DendriteRequest) => post(r.url, r.headers, r.body);
  let garbage = 0;
  return {
    kinds: ATTACK_KINDS,
    async send(kind) {
      switch (kind) {
        case "unsigned": {
          // Claims a validator's hotkey and sends no signature at all.
          const r = dendrites.unsigned.buildRequest({ axon, image });
          const headers = { ...r.headers, bt_header_dendrite_hotkey: victim.address };
          delete (headers as Record<string, string | undefined>).bt_header_dendrite_signature;
          return post(r.url, headers, r.body);
        }
        case "forged-signature":
          return send(dendrites.forged.buildRequest({ axon, image }));
        case "replayed": {
          const captured = options.honestRequests.at(-1);
          if (!captured) return send(dendrites.unregistered.buildRequest({ axon, image }));
          return send(captured);
        }
        case "unregistered-hotkey":
          return send(dendrites.unregistered.buildRequest({ axon, image }));
        case "no-validator-permit":
          return send(dendrites.nonPermit.buildRequest({ axon, image }));
        case "stale-nonce": {
          const old = (BigInt(Date.now()) - 3_600_000n) * 1_000_000n;
          return send(dendrites.stale.buildRequest({ axon, image, nonceNs: old }));
        }
        default: {
          // Malformed: random bytes, truncated JSON, or headers with junk values.
          const r = dendrites.unregistered.buildRequest({ axon, image });
          const variant = garbage++ % 3;
          if (variant === 0) return post(r.url, { "content-type": "application/json" }, randomBytes(512));
          if (variant === 1) return post(r.url, r.headers, r.body.slice(0, Math.floor(r.body.length / 2)));
          return post(r.url, { ...r.headers, bt_header_dendrite_nonce: "not-a-number", timeout: "nan" }, r.body);
        }
      }
    },
  };
}

/** Shows the scoreboard until `signal` aborts or `durationS` passes: redrawn in place on a TTY, lines otherwise. */
export async function runWithScoreboard(
  sim: ValidatorSimulator,
  options: {
    durationS?: number;
    signal?: AbortSignal;
    out?: NodeJS.WriteStream;
    /** A function is re-read at every redraw (e.g. to show the model version serving now). */
    title?: string | (() => string);
    lineEveryMs?: number;
  },
): Promise<Scoreboard> {
  const out = options.out ?? process.stdout;
  const title = () => (typeof options.title === "function" ? options.title() : options.title);
  const tty = out.isTTY === true;
  let drawn = 0;
  const draw = () => {
    const lines = renderScoreboard(sim.scoreboard(), title());
    if (tty) {
      out.write(`${drawn > 0 ? `\x1b[${drawn}F` : ""}${lines.map((l) => `\x1b[2K${l}`).join("\n")}\n`);
      drawn = lines.length;
    } else {
      const b = sim.scoreboard();
      const o = b.overall;
      const attack = b.attacks.length
        ? ` attacks rejected ${b.attacks.reduce((a, r) => a + r.rejected, 0)}/${b.attacks.reduce((a, r) => a + r.sent, 0)}`
        : "";
      const mix = b.formats.length
        ? ` formats ${b.formats.map((f) => `${f.format} ${(100 * f.share).toFixed(0)}% acc ${f.accuracy.toFixed(3)}`).join(" / ")}`
        : "";
      out.write(
        `[${b.elapsedS.toFixed(0)}s]${typeof options.title === "function" ? ` ${options.title()}` : ""} challenges ${o.sent} errors ${o.errors} reward ${o.meanReward.toFixed(3)} EMA ${o.meanEma.toFixed(3)} acc ${o.accuracy.toFixed(3)} MCC ${o.mcc.toFixed(3)} p50 ${ms(o.p50)} p99 ${ms(o.p99)}${mix}${attack}\n`,
      );
    }
  };
  sim.start();
  const timer = setInterval(draw, tty ? 500 : (options.lineEveryMs ?? 10_000));
  await new Promise<void>((resolveWait) => {
    const done = () => resolveWait();
    const t = options.durationS !== undefined ? setTimeout(done, options.durationS * 1000) : undefined;
    options.signal?.addEventListener("abort", () => {
      if (t) clearTimeout(t);
      done();
    });
    if (options.signal?.aborted) done();
  });
  clearInterval(timer);
  await sim.stop();
  const final = sim.scoreboard();
  if (tty) draw();
  else out.write(`${renderScoreboard(final, title()).join("\n")}\n`);
  return final;
}

const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)}ms` : "-");

/** Aborts on the first Ctrl-C / SIGTERM; the listeners are removed when `dispose` runs. */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    },
  };
}
