// `roadwork query`: one signed ImageSynapse request to an axon, read the way a validator's dendrite reads it.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type HotkeySource, loadHotkey } from "@roadwork/chain/keys";
import { Dendrite, ensureCryptoReady } from "@roadwork/protocol";
import type { Command } from "../command.ts";

const USAGE = `usage: roadwork query --image <file> [--url http://127.0.0.1:8091] [--dendrite-seed <0x seed|mnemonic|//Dev>]
                      [--axon-hotkey <ss58>] [--timeout 9]
The request is signed with --dendrite-seed (or ROADWORK_DENDRITE_SEED); the axon only answers hotkeys in its metagraph
with a validator permit (//Alice in the local demo snapshot). Without --axon-hotkey the axon's hotkey is read from its
/Synapse ping.`;

export const command: Command = {
  summary: "send one signed ImageSynapse request to an axon and print the answer",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        url: { type: "string", default: "http://127.0.0.1:8091" },
        image: { type: "string" },
        "dendrite-seed": { type: "string" },
        "axon-hotkey": { type: "string" },
        timeout: { type: "string", default: "9" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (!values.image) throw new Error(`--image is required\n${USAGE}`);
    const timeout = Number(values.timeout);
    if (!(timeout > 0 && timeout <= 120))
      throw new Error(`--timeout must be seconds in (0, 120], got '${values.timeout}'`);
    let url: URL;
    try {
      url = new URL(values.url);
    } catch {
      throw new Error(`--url must be an http URL like http://127.0.0.1:8091, got '${values.url}'`);
    }
    if (url.protocol !== "http:") throw new Error("--url must use http:// (axons speak plain HTTP)");
    const seed = values["dendrite-seed"] ?? process.env.ROADWORK_DENDRITE_SEED;
    if (!seed) throw new Error("give --dendrite-seed (or ROADWORK_DENDRITE_SEED): the validator key that signs");

    let image: Uint8Array;
    try {
      image = new Uint8Array(await readFile(values.image));
    } catch (error) {
      throw new Error(`cannot read --image ${values.image}: ${(error as Error).message}`);
    }
    await ensureCryptoReady();
    const signer = await loadHotkey(dendriteSource(seed));
    const axonHotkey = values["axon-hotkey"] ?? (await pingHotkey(url, timeout));
    const port = Number(url.port || 80);
    const ip = url.hostname.replace(/^\[|\]$/g, "");

    const dendrite = new Dendrite({ signer });
    const result = await dendrite.call({ axon: { ip, port, hotkey: axonHotkey }, image, timeout });
    let response: unknown = result.body;
    try {
      const parsed = JSON.parse(result.body) as Record<string, unknown>;
      if (typeof parsed.image === "string" && parsed.image.length > 64) parsed.image = `<${parsed.image.length} chars>`;
      response = parsed;
    } catch {
      // not JSON: print as received
    }
    const bt = Object.fromEntries(Object.entries(result.headers).filter(([k]) => k.startsWith("bt_header_axon_")));
    console.log(
      JSON.stringify(
        {
          status: result.status,
          prediction: result.prediction,
          statusMessage: result.statusMessage,
          roundTripMs: Math.round(result.roundTripMs * 100) / 100,
          dendriteHotkey: signer.address,
          axonHotkey,
          headers: bt,
          response,
        },
        null,
        2,
      ),
    );
    console.error(`round-trip ${result.roundTripMs.toFixed(1)} ms, status ${result.status}`);
    return result.status === 200 ? 0 : 1;
  },
};

function dendriteSource(seed: string): HotkeySource {
  return /^(?:0x)?[0-9a-fA-F]{64}$/.test(seed.trim()) ? { seedHex: seed } : { mnemonic: seed };
}

/** Our axon's /Synapse ping names its hotkey in `bt_header_axon_hotkey` (Python axons do not reveal theirs). */
async function pingHotkey(url: URL, timeout: number): Promise<string> {
  const ping = new URL("/Synapse", url);
  let hotkey: string | null = null;
  let why = "";
  try {
    const res = await fetch(ping, { signal: AbortSignal.timeout(timeout * 1000) });
    await res.body?.cancel();
    hotkey = res.headers.get("bt_header_axon_hotkey");
    if (!hotkey) why = `HTTP ${res.status} without a bt_header_axon_hotkey header`;
  } catch (error) {
    why = (error as Error).message;
  }
  if (!hotkey) {
    throw new Error(
      `pass --axon-hotkey <ss58>: requests are signed for the axon's hotkey, and ${ping} did not reveal it (${why})`,
    );
  }
  return hotkey;
}
