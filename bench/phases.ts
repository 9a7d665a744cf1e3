// Where one request's time goes inside the axon, measured in-process on the real package functions, one request at a
// time: signature check, body parse + base64, JPEG decode, preprocessing, and model inference (batch of one, no
// batching wait). Prints JSON; explains the end-to-end numbers of bench/driver.ts.
//
//   node --import tsx bench/phases.ts --model BUNDLE_DIR [--ep cpu|cuda] [--n 200]
//
// decode is decodeImage as the axon calls it (ROADWORK_JPEG_DECODER, default auto: a lone request's 224×224 JPEG goes
// to the WebAssembly libjpeg-turbo); decodeSharp and decodeWasm pin each decoder. preprocess is the float32
// normalize path of a CPU bundle; a GPU bundle normalizes in its graph (enginePreprocess).
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import {
  decodeImage,
  type ExecutionProviderChoice,
  jpegFastPathStats,
  loadScorer,
  parsePreprocessing,
  preprocess,
} from "@roadwork/inference";
import { Dendrite, decodeImageField, parseSynapseBody, verifySignature } from "@roadwork/protocol";
import { benchIdentities } from "./lib/identities.ts";
import { challengeImages } from "./lib/images.ts";
import { describeMachine } from "./lib/machine.ts";
import { summarize } from "./lib/stats.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    ep: { type: "string", default: "cpu" },
    n: { type: "string", default: "200" },
    /** onnxruntime intra-op threads (0: one per core); with `taskset`, the phases on pinned cores. */
    threads: { type: "string", default: "0" },
  },
});
if (!values.model) throw new Error("--model BUNDLE_DIR is required");
const n = Number(values.n);
const ids = await benchIdentities(1);
const dendrite = new Dendrite({ signer: ids.validators[0]! });
const images = await challengeImages(32);
const requests = images.map((image) =>
  dendrite.buildRequest({ axon: { ip: "127.0.0.1", port: 8091, hotkey: ids.minerHotkey }, image }),
);
const scorer = await loadScorer({
  model: values.model,
  executionProvider: values.ep as ExecutionProviderChoice,
  maxWaitMs: 0,
  cacheSize: 0,
  intraOpNumThreads: Number(values.threads),
});
const spec = parsePreprocessing({});

const phases: Record<string, number[]> = {
  verify: [],
  parseBody: [],
  decode: [],
  decodeSharp: [],
  decodeWasm: [],
  preprocess: [],
  inference: [],
  engineDecode: [],
  enginePreprocess: [],
  decode1920x1080Full: [],
  decode1920x1080ShrinkOnLoad: [],
  score1920x1080: [],
  // The same decodes with one libvips thread instead of the default (one per core).
  decodeOneThread: [],
  decode1920x1080ShrinkOnLoadOneThread: [],
};
const time = async (phase: string, f: () => unknown) => {
  const t = performance.now();
  await f();
  phases[phase]!.push(performance.now() - t);
};
for (let i = 0; i < n; i++) {
  const r = requests[i % requests.length]!;
  const bytes = images[i % images.length]!;
  const sig = r.headers.bt_header_dendrite_signature!;
  await time("verify", () => {
    if (!verifySignature(r.signedMessage, sig, dendrite.hotkey)) throw new Error("signature did not verify");
  });
  await time("parseBody", () => decodeImageField(parseSynapseBody(r.body, "application/json")));
  const rgb = await decodeImage(bytes);
  await time("decode", () => decodeImage(bytes));
  await time("decodeSharp", () => decodeImage(bytes, { jpegDecoder: "sharp" }));
  await time("decodeWasm", () => decodeImage(bytes, { jpegDecoder: "wasm" }));
  await time("decodeOneThread", () => decodeImage(bytes, { threads: 1, jpegDecoder: "sharp" }));
  await time("preprocess", () => preprocess(rgb, spec));
  const result = await scorer.score(bytes);
  phases.inference!.push(result.timings?.inferenceMs ?? Number.NaN);
  // The engine's own path: JS header parse + decode, geometry (normalization happens as the batch is filled).
  phases.engineDecode!.push(result.timings?.decodeMs ?? Number.NaN);
  phases.enginePreprocess!.push(result.timings?.preprocessMs ?? Number.NaN);
}
// Native-resolution frames: a full decode against shrink-on-load straight to the model's 224×224.
const frames = await challengeImages(4, 3, 1920, 1080);
const to224 = () => ({ width: 224, height: 224, resample: 2 });
for (let i = 0; i < Math.min(n, 60); i++) {
  const bytes = frames[i % frames.length]!;
  await time("decode1920x1080Full", () => decodeImage(bytes));
  await time("decode1920x1080ShrinkOnLoad", () => decodeImage(bytes, { resizeTo: to224 }));
  await time("decode1920x1080ShrinkOnLoadOneThread", () => decodeImage(bytes, { resizeTo: to224, threads: 1 }));
  await time("score1920x1080", () => scorer.score(bytes));
}
await scorer.close();
const machine = describeMachine();
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: "axon request phases (in-process, one request at a time)",
      machine: machine.gpu
        ? `${machine.gpu.name} + ${machine.cpuModel}`
        : `${machine.cpuModel}, ${machine.cores} cores`,
      model: values.model,
      device: scorer.device,
      loadAverage1m: +loadavg()[0]!.toFixed(2),
      requests: n,
      phasesMs: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, summarize(v)])),
      jpegFastPath: jpegFastPathStats(),
    },
    null,
    2,
  )}\n`,
);
