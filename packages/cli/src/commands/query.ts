// `roadwork query`: one signed ImageSynapse request to an axon, read the way a validator's dendrite reads it.
import { readFile } from "node:fs/promises";
import type { HotkeySource } from "@roadwork/chain/keys";
import { defineCommand, UsageError } from "../command.ts";

export const command = defineCommand({
  name: "query",
  summary: "send one signed ImageSynapse request to an axon and print the answer",
  usage: "--image <file> [options]",
  description: `The request is signed with --dendrite-seed (or ROADWORK_DENDRITE_SEED); the axon only answers hotkeys in its metagraph
with a validator permit (//Alice in the local demo snapshot). Without --axon-hotkey the axon's hotkey is read from its
/Synapse ping. Exit code 0 on HTTP 200, 1 otherwise, 3 when the axon cannot be reached.`,
  options: {
    image: { type: "string", value: "<file>", help: "the image to send (JPEG/PNG/WebP)" },
    url: { type: "string", value: "<http url>", default: "http://127.0.0.1:8091", help: "the axon" },
    "dendrite-seed": {
      type: "string",
      value: "<seed>",
      help: "0x seed, mnemonic or //Dev URI of the validator key that signs",
    },
    "axon-hotkey": {
      type: "string",
      value: "<ss58>",
      help: "the axon's hotkey (default: read from its /Synapse ping)",
    },
    timeout: { type: "string", value: "<s>", default: "9", help: "request timeout in seconds" },
  },
  async run({ values }) {
    if (!values.image) throw new UsageError("--image is required");
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
    const { loadHotkey } = await import("@roadwork/chain/keys");
    const { Dendrite, ensureCryptoReady } = await import("@roadwork/protocol");
    await ensureCryptoReady();
    const signer = await loadHotkey(dendriteSource(seed));
    const reach = await reachable(url, timeout);
    if (reach.error) {
      console.error(
        `roadwork query: the axon at ${url.origin} is unreachable (${reach.error}); is it running? Start one with 'npm start' or 'roadwork serve'.`,
      );
      return 3;
    }
    const axonHotkey = values["axon-hotkey"] ?? hotkeyFromPing(url, reach.hotkey, reach.status);
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
});

function dendriteSource(seed: string): HotkeySource {
  return /^(?:0x)?[0-9a-fA-F]{64}$/.test(seed.trim()) ? { seedHex: seed } : { mnemonic: seed };
}

/** One GET of /Synapse: tells a dead port from a live axon, and our axon names its hotkey there. */
async function reachable(
  url: URL,
  timeout: number,
): Promise<{ error?: string; hotkey?: string | null; status?: number }> {
  try {
    const res = await fetch(new URL("/Synapse", url), { signal: AbortSignal.timeout(timeout * 1000) });
    await res.body?.cancel();
    return { hotkey: res.headers.get("bt_header_axon_hotkey"), status: res.status };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { error: cause?.code ?? cause?.message ?? (error as Error).message };
  }
}

/** Our axon's /Synapse ping names its hotkey in `bt_header_axon_hotkey` (Python axons do not reveal theirs). */
function hotkeyFromPing(url: URL, hotkey: string | null | undefined, status: number | undefined): string {
  if (!hotkey) {
    throw new UsageError(
      `pass --axon-hotkey <ss58>: requests are signed for the axon's hotkey, and ${new URL("/Synapse", url)} ` +
        `answered HTTP ${status} without a bt_header_axon_hotkey header`,
    );
  }
  return hotkey;
}
