// A small plain JPEG → RGB, synchronously, with libjpeg-turbo 2.0 compiled to WebAssembly (the .wasm of
// @cwasm/jpeg-turbo, driven through its TurboJPEG exports by this module, not by the package's own wrapper). A 224×224
// q75 JPEG decodes in ~0.85 ms here against 1.9-3.4 ms through sharp, whose libuv round trip and libvips pipeline
// set-up cost more than the decode itself at that size. The pixels are libjpeg-turbo's, as sharp's are: the same
// accurate integer IDCT and fancy upsampling (tests compare the two byte for byte).
//
// The decoder only takes what it can bound: frames of at most MAX_SIDE per side and MAX_BYTES of input, few scans, YCbCr
// colour. Anything else, and any warning or error from libjpeg (a truncated file is
// a warning), is `undefined`: the caller decodes with sharp, which keeps the lenient behaviour and the error messages.
// libjpeg reports errors by longjmp, which this build turns into a thrown exception out of the middle of the library:
// the instance is then dropped (its memory with it) and the next decode instantiates a fresh one from the compiled
// module. An instance whose memory grew past MAX_MEMORY is recycled the same way, so one large image does not pin it.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// The project's ES lib has no WebAssembly types (they come with lib.dom): the part of the global this module uses.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports: object);
    readonly exports: object;
  }
  interface Memory {
    readonly buffer: ArrayBuffer;
  }
  class RuntimeError extends Error {}
}

/** Largest width or height taken (1024² RGB is 3 MiB of output; a validator image is 224²). */
export const MAX_SIDE = 1024;
/** Largest input taken: a 1024² JPEG at q100 4:4:4 is under 1 MiB. */
export const MAX_BYTES = 2 * 1024 * 1024;
/** Most scans (SOS markers) taken: a progressive JPEG has ~10; thousands would hold the thread for seconds. */
export const MAX_SCANS = 64;
/** An instance whose linear memory grew beyond this is replaced before the next decode. */
export const MAX_MEMORY = 64 * 1024 * 1024;

const TJPF_RGB = 0;
const TJCS_YCBCR = 1;
/** TJSAMP_444, _422, _420, _440, _411: the samplings the tests show decoding to sharp's bytes (not _GRAY, 3). */
const SAMPLINGS: ReadonlySet<number> = new Set([0, 1, 2, 4, 5]);

interface TurboExports {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  free(ptr: number): void;
  tjInitDecompress(): number;
  tjDestroy(handle: number): number;
  tjDecompressHeader3(
    handle: number,
    src: number,
    size: number,
    width: number,
    height: number,
    subsamp: number,
    colorspace: number,
  ): number;
  tjDecompress2(
    handle: number,
    src: number,
    size: number,
    dst: number,
    width: number,
    pitch: number,
    height: number,
    pixelFormat: number,
    flags: number,
  ): number;
}

/** One instance and its TurboJPEG decompressor, reused until it throws or grows too big. */
interface Live {
  exports: TurboExports;
  handle: number;
}

export interface TurboJpegStats {
  /** Images decoded here. */
  decoded: number;
  /** Images not taken (too large, other colour space or sampling, too many scans): decoded by the caller. */
  declined: number;
  /** Images libjpeg warned or failed on: decoded (or refused) by the caller. */
  failed: number;
  /** Fresh instances made after a throw or memory growth (the first one not counted). */
  recycled: number;
  /** Bytes of linear memory the live instance holds (0 before the first decode). */
  memoryBytes: number;
}

export interface DecodedRgb {
  data: Uint8Array;
  width: number;
  height: number;
}

const imports = {
  env: {
    // TurboJPEG sets a jump buffer before each call and libjpeg's error_exit jumps to it. Without a real setjmp the
    // jump becomes this exception, the decompressor is left mid-call, and the instance is discarded.
    setjmp: () => 0,
    longjmp: () => {
      throw new TurboJpegAbort();
    },
  },
  wasi_snapshot_preview1: {
    // getenv (JPEGMEM) sees an empty environment; nothing else is ever called by decompression.
    environ_sizes_get: () => 0,
    environ_get: () => 0,
    proc_exit: () => {
      throw new TurboJpegAbort();
    },
    fd_close: () => 0,
    fd_seek: () => 0,
    fd_write: () => 0,
  },
};

class TurboJpegAbort extends Error {
  constructor() {
    super("libjpeg error");
  }
}

let compiled: WebAssembly.Module | undefined;

/** The compiled module, found through node's resolution so it works from the repo, a bundle's node_modules or an image. */
function wasmModule(): WebAssembly.Module {
  if (!compiled) {
    const require = createRequire(import.meta.url);
    compiled = new WebAssembly.Module(readFileSync(require.resolve("@cwasm/jpeg-turbo/jpeg-turbo.wasm")));
  }
  return compiled;
}

export class TurboJpegDecoder {
  #live: Live | undefined;
  #stats = { decoded: 0, declined: 0, failed: 0, recycled: 0 };
  #instances = 0;
  readonly #maxMemory: number;

  /** Loads the module now (throws when the .wasm cannot be found or compiled), rather than on the first decode. */
  constructor(options: { maxMemory?: number } = {}) {
    this.#maxMemory = options.maxMemory ?? MAX_MEMORY;
    wasmModule();
  }

  stats(): TurboJpegStats {
    return { ...this.#stats, memoryBytes: this.#live ? this.#live.exports.memory.buffer.byteLength : 0 };
  }

  /**
   * The RGB pixels (interleaved, 3 bytes per pixel, in a buffer of their own) of a plain JPEG; undefined when the
   * image is not taken or libjpeg warns or fails on it. `bytes` must start with a JPEG SOI marker.
   */
  decode(bytes: Uint8Array): DecodedRgb | undefined {
    if (bytes.length > MAX_BYTES || countScans(bytes) > MAX_SCANS) {
      this.#stats.declined++;
      return undefined;
    }
    const live = this.#instance();
    const x = live.exports;
    let src = 0;
    let info = 0;
    let dst = 0;
    try {
      src = x.malloc(bytes.length);
      info = x.malloc(16);
      if (!src || !info) return this.#fail();
      new Uint8Array(x.memory.buffer, src, bytes.length).set(bytes);
      if (x.tjDecompressHeader3(live.handle, src, bytes.length, info, info + 4, info + 8, info + 12) !== 0) {
        return this.#fail();
      }
      const [width = 0, height = 0, sampling = -1, colourspace = -1] = new Int32Array(x.memory.buffer, info, 4);
      if (
        width < 1 ||
        height < 1 ||
        width > MAX_SIDE ||
        height > MAX_SIDE ||
        colourspace !== TJCS_YCBCR ||
        !SAMPLINGS.has(sampling)
      ) {
        this.#stats.declined++;
        return undefined;
      }
      const size = width * height * 3;
      dst = x.malloc(size);
      if (!dst) return this.#fail();
      // 0 (not -1) is success: TurboJPEG 2.0 returns -1 after a decode that only warned (e.g. premature end of data).
      if (x.tjDecompress2(live.handle, src, bytes.length, dst, width, width * 3, height, TJPF_RGB, 0) !== 0) {
        return this.#fail();
      }
      const data = new Uint8Array(size);
      data.set(new Uint8Array(x.memory.buffer, dst, size));
      this.#stats.decoded++;
      return { data, width, height };
    } catch (error) {
      // libjpeg's longjmp, or a WebAssembly trap: nothing in this instance can be trusted any more.
      this.#live = undefined;
      this.#stats.failed++;
      if (error instanceof TurboJpegAbort || error instanceof WebAssembly.RuntimeError) return undefined;
      throw error;
    } finally {
      if (this.#live === live) {
        if (src) x.free(src);
        if (info) x.free(info);
        if (dst) x.free(dst);
        if (x.memory.buffer.byteLength > this.#maxMemory) this.#live = undefined;
      }
    }
  }

  /** A -1 return (or a failed malloc): TurboJPEG has run its own clean-up, so the instance stays usable. */
  #fail(): undefined {
    this.#stats.failed++;
    return undefined;
  }

  #instance(): Live {
    if (this.#live) return this.#live;
    const instance = new WebAssembly.Instance(wasmModule(), imports);
    const exports = instance.exports as unknown as TurboExports;
    const handle = exports.tjInitDecompress();
    if (!handle) throw new Error("TurboJPEG could not allocate a decompressor");
    if (this.#instances++ > 0) this.#stats.recycled++;
    this.#live = { exports, handle };
    return this.#live;
  }
}

/** Start-of-scan markers in the file (entropy-coded data stuffs 0xFF as FF 00, so FF DA is always a marker). */
function countScans(bytes: Uint8Array): number {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let n = 0;
  for (let at = b.indexOf(SOS); at >= 0 && n <= MAX_SCANS; at = b.indexOf(SOS, at + 2)) n++;
  return n;
}
const SOS = Buffer.from([0xff, 0xda]);
