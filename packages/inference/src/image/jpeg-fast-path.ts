// Which decoder a plain JPEG goes to: the synchronous WebAssembly libjpeg-turbo (turbojpeg.ts) or sharp. Both give
// the same bytes; they differ in where the time goes. The WebAssembly decode runs on the calling thread: on a worker
// thread (the trainer's view workers) that is the point, each worker decodes in parallel instead of queueing on the
// process's one libuv pool. On the main thread it blocks the event loop for the decode (~0.5-0.9 ms at 224×224), which
// is the right trade while the loop has time to spare (a lone validator request saves the libuv round trip), and the
// wrong one once the loop is the bottleneck: sharp then costs the loop only its call overhead and decodes on the
// libuv threads beside it. So under "auto" the main thread decodes here only while its event loop was busy less than
// BUSY_UTILIZATION of the last sampling window with work other than the model (loop-load.ts: onnxruntime runs on the
// loop too; counting it sent every JPEG of a CPU host's lone request to sharp, at twice the CPU, beside the model).
// Measured with bench/decode.ts (2 shared cores, load 3; decode + float preprocess + a 5 ms wait standing in for the
// GPU): one request in flight, wasm 127 req/s at p50 6.0 ms against sharp's 89 at 10.9 ms; sixteen in flight, sharp
// 330, wasm 308, auto 287 req/s (runs differ by 10-30 %, so no decoder wins there on two cores). The busy rule stays
// for many-core hosts, where sharp's decodes run in parallel beside a saturated loop.
import { isMainThread } from "node:worker_threads";
import { z } from "zod";
import { loopUtilizationOutsideModel } from "../loop-load.ts";
import { type DecodedRgb, TurboJpegDecoder, type TurboJpegStats } from "./turbojpeg.ts";

/** auto: WebAssembly when the thread can afford it (see above); wasm: always when eligible; sharp: never. */
export type JpegDecoderChoice = "auto" | "wasm" | "sharp";

export const JpegDecoderChoice = z.enum(["auto", "wasm", "sharp"]);

/** Event loop utilization over the last window above which the main thread leaves plain JPEGs to sharp (auto). */
export const BUSY_UTILIZATION = 0.75;

export interface JpegFastPathStats extends TurboJpegStats {
  /** Whether the WebAssembly decoder loaded (false: every JPEG goes to sharp, `unavailable` says why). */
  available: boolean;
  unavailable?: string;
  /** Plain JPEGs the main thread gave to sharp under "auto" because its loop was busy. */
  busy: number;
}

let decoder: TurboJpegDecoder | undefined;
let unavailable: string | undefined;
let busy = 0;

/**
 * The process-wide default choice: ROADWORK_JPEG_DECODER (auto|wasm|sharp), read once, like sharp's VIPS_CONCURRENCY,
 * because the trainer's worker threads and the axon share this code and the switch exists for side-by-side runs.
 */
let defaultChoice: JpegDecoderChoice | undefined;
export function defaultJpegDecoder(): JpegDecoderChoice {
  if (defaultChoice === undefined) {
    const parsed = JpegDecoderChoice.safeParse(process.env.ROADWORK_JPEG_DECODER ?? "auto");
    if (!parsed.success) {
      throw new Error(
        `ROADWORK_JPEG_DECODER='${process.env.ROADWORK_JPEG_DECODER}' is not one of auto, wasm, sharp (unset it for auto)`,
      );
    }
    defaultChoice = parsed.data;
  }
  return defaultChoice;
}

/**
 * The pixels of a plain JPEG (3-channel YCbCr, no ICC profile, orientation 1, decoded at full size) from the
 * WebAssembly decoder, or undefined: not chosen, not taken, or libjpeg warned. The caller then decodes with sharp.
 */
export function decodePlainJpeg(bytes: Uint8Array, choice: JpegDecoderChoice): DecodedRgb | undefined {
  if (choice === "sharp") return undefined;
  const d = wasmDecoder(choice);
  if (!d) return undefined;
  if (choice === "auto" && isMainThread && loopUtilizationOutsideModel() > BUSY_UTILIZATION) {
    busy++;
    return undefined;
  }
  return d.decode(bytes);
}

export function jpegFastPathStats(): JpegFastPathStats {
  const s = decoder?.stats() ?? { decoded: 0, declined: 0, failed: 0, recycled: 0, memoryBytes: 0 };
  return { ...s, available: unavailable === undefined, ...(unavailable ? { unavailable } : {}), busy };
}

function wasmDecoder(choice: JpegDecoderChoice): TurboJpegDecoder | undefined {
  if (decoder) return decoder;
  if (unavailable !== undefined && choice === "auto") return undefined;
  try {
    decoder = new TurboJpegDecoder();
    unavailable = undefined;
    return decoder;
  } catch (error) {
    unavailable = (error as Error).message;
    // Asked for by name (a benchmark's side-by-side), a missing decoder must not pass for sharp.
    if (choice === "wasm") throw new Error(`the WebAssembly JPEG decoder is unavailable: ${unavailable}`);
    return undefined;
  }
}
