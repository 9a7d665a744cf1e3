import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import sharp, { type JpegOptions } from "sharp";
import { ImageInputError } from "../scorer.ts";
import { type DecodeOptions, decodeImage, type RgbImage } from "./decode.ts";
import { jpegFastPathStats } from "./jpeg-fast-path.ts";
import { MAX_MEMORY, MAX_SIDE, TurboJpegDecoder } from "./turbojpeg.ts";

/** Deterministic colour ramps with fine texture, so every DCT coefficient and the chroma upsampling matter. */
function texture(width: number, height: number): Buffer {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const t = ((x * 7) ^ (y * 13)) & 31;
      px[i] = (x * 255) / width;
      px[i + 1] = ((y * 255) / height) ^ t;
      px[i + 2] = 128 + 100 * Math.sin((x + y) / 9);
    }
  }
  return px;
}

const encode = (width: number, height: number, options: JpegOptions) =>
  sharp(texture(width, height), { raw: { width, height, channels: 3 } })
    .jpeg(options)
    .toBuffer();

const fixtures = new URL("./fixtures/", import.meta.url);
/** cjpeg's 4:2:2, 4:4:0, 4:1:1 and restart intervals (fixtures/make-jpeg-fixtures.sh), which sharp cannot write. */
const cjpegFixtures = readdirSync(fixtures)
  .filter((f) => f.endsWith(".jpg"))
  .map((f) => ({ name: f, bytes: readFileSync(new URL(f, fixtures)) }));

const viaSharp = (bytes: Uint8Array, options: DecodeOptions = {}) =>
  decodeImage(bytes, { ...options, jpegDecoder: "sharp" });

function assertSame(actual: RgbImage, expected: RgbImage, name: string): void {
  assert.equal(actual.width, expected.width, name);
  assert.equal(actual.height, expected.height, name);
  assert.equal(actual.format, expected.format, name);
  // Buffer.compare, not deepEqual: a mismatch reports one line, not 150,000 bytes.
  assert.equal(Buffer.compare(Buffer.from(actual.data), Buffer.from(expected.data)), 0, `${name}: pixels differ`);
}

/** Outcome of a decode as data: its size (and pixels), or the ImageInputError's reason and message. */
async function outcome(p: Promise<RgbImage>, pixels = true): Promise<string> {
  try {
    const img = await p;
    return `ok ${img.width}x${img.height} ${pixels ? Buffer.from(img.data).toString("base64") : ""}`;
  } catch (error) {
    assert.ok(error instanceof ImageInputError, `expected ImageInputError, got ${error}`);
    return `${error.reason}: ${error.message}`;
  }
}

test("the WebAssembly decoder gives sharp's bytes across samplings, qualities, progressive, restarts, odd sizes", async () => {
  const corpus: { name: string; bytes: Uint8Array }[] = [...cjpegFixtures];
  for (const [w, h] of [
    [224, 224],
    [223, 225],
    [17, 9],
    [8, 8],
    [640, 480],
  ] as const) {
    for (const quality of [50, 75, 95]) {
      for (const chromaSubsampling of ["4:2:0", "4:4:4"]) {
        for (const progressive of [false, true]) {
          const name = `${w}x${h} q${quality} ${chromaSubsampling}${progressive ? " progressive" : ""}`;
          corpus.push({ name, bytes: await encode(w, h, { quality, chromaSubsampling, progressive }) });
        }
      }
    }
  }
  // mozjpeg's trellis quantisation and optimised progressive scans.
  corpus.push({ name: "mozjpeg 300x200", bytes: await encode(300, 200, { quality: 80, mozjpeg: true }) });
  corpus.push({ name: "1024x1024 q90", bytes: await encode(MAX_SIDE, MAX_SIDE, { quality: 90 }) });

  const before = jpegFastPathStats().decoded;
  for (const { name, bytes } of corpus) {
    assertSame(await decodeImage(bytes, { jpegDecoder: "wasm" }), await viaSharp(bytes), name);
  }
  assert.equal(jpegFastPathStats().decoded - before, corpus.length, "every image took the WebAssembly path");
});

test("grayscale, CMYK, ICC profiles, EXIF rotation, resized and oversized JPEGs go to sharp as before", async () => {
  const rgb = texture(96, 64);
  const raw = { raw: { width: 96, height: 64, channels: 3 as const } };
  const cases = {
    grayscale: await sharp(rgb, raw).toColourspace("b-w").jpeg().toBuffer(),
    cmyk: await sharp(rgb, raw).toColourspace("cmyk").jpeg().toBuffer(),
    icc: await sharp(rgb, raw).withIccProfile("p3").jpeg().toBuffer(),
    rotated: await sharp(rgb, raw).withMetadata({ orientation: 6 }).jpeg().toBuffer(),
    overMaxSide: await encode(MAX_SIDE + 8, 16, {}),
  };
  const before = jpegFastPathStats();
  for (const [name, bytes] of Object.entries(cases)) {
    assertSame(await decodeImage(bytes, { jpegDecoder: "wasm" }), await viaSharp(bytes), name);
  }
  // Resized by the decode (shrink-on-load target, or maxSide): sharp resizes while decoding.
  const big = await encode(600, 400, { quality: 75 });
  const resizeTo = () => ({ width: 150, height: 100 });
  assertSame(await decodeImage(big, { jpegDecoder: "wasm", resizeTo }), await viaSharp(big, { resizeTo }), "target");
  assertSame(
    await decodeImage(big, { jpegDecoder: "wasm", maxSide: 300 }),
    await viaSharp(big, { maxSide: 300 }),
    "maxSide",
  );
  const after = jpegFastPathStats();
  assert.equal(after.decoded, before.decoded, "none decoded by WebAssembly");
  // Only the one over MAX_SIDE was offered (and declined); the others never reached the decoder.
  assert.equal(after.declined - before.declined, 1);
});

test("a truncated JPEG falls back to sharp: same lenient pixels or the same error, the fallback counted", async () => {
  const good = await encode(224, 224, { quality: 75 });
  for (const keep of [0.3, 0.6, 0.9, 0.99]) {
    const cut = good.subarray(0, Math.floor(good.length * keep));
    const before = jpegFastPathStats().failed;
    const wasm = await outcome(decodeImage(cut, { jpegDecoder: "wasm" }));
    assert.equal(jpegFastPathStats().failed - before, 1, `truncated at ${keep}: libjpeg's warning sends it to sharp`);
    assert.equal(wasm, await outcome(viaSharp(cut)), `truncated at ${keep}`);
  }
});

test("hundreds of hostile JPEGs neither crash nor leak: the next good image decodes identically, memory bounded", async () => {
  const good = await encode(223, 225, { quality: 75 });
  const progressive = await encode(224, 224, { quality: 75, progressive: true });
  const expected = await viaSharp(good);
  const decoder = new TurboJpegDecoder();
  const scan = good.indexOf(Buffer.from([0xff, 0xda]));
  const bad: Uint8Array[] = [Buffer.alloc(0), Buffer.from([0xff, 0xd8]), Buffer.from([0xff, 0xd8, 0xff])];
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 100; i++) {
    // Truncated anywhere, headers included.
    bad.push(good.subarray(0, rand(good.length)));
    // Garbage after SOI.
    bad.push(Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.from(Array.from({ length: 200 }, () => rand(256)))]));
    // Corrupted entropy-coded data (Huffman codes, stuffing, restart markers), baseline and progressive.
    for (const src of [good, progressive]) {
      const b = Buffer.from(src);
      for (let k = 0; k < 1 + rand(8); k++) {
        const at = scan + 20 + rand(b.length - scan - 22);
        b[at] = rand(256);
      }
      bad.push(b);
    }
  }
  // Declared sizes the decoder must refuse from the header (60000² would be 10 GiB of RGB), or that lie about the data.
  for (const [w, h] of [
    [60000, 60000],
    [MAX_SIDE + 1, 8],
    [MAX_SIDE, MAX_SIDE],
    [1, 1],
  ] as const) {
    const b = Buffer.from(good);
    const sof = b.indexOf(Buffer.from([0xff, 0xc0]));
    b.writeUInt16BE(h, sof + 5);
    b.writeUInt16BE(w, sof + 7);
    bad.push(b);
  }
  // A progressive file with more scans than the decoder takes (each a copy of a real scan header).
  const sosHeader = progressive.subarray(progressive.indexOf(Buffer.from([0xff, 0xda])));
  bad.push(
    Buffer.concat([progressive.subarray(0, 2000), ...Array.from({ length: 80 }, () => sosHeader.subarray(0, 14))]),
  );

  let decodedBad = 0;
  for (const bytes of bad) {
    const r = decoder.decode(bytes);
    // Corrupt entropy data that libjpeg reads without a warning is a valid JPEG of other coefficients. Its pixels can
    // differ from sharp's in a few places: libjpeg-turbo's x86 SIMD IDCT (sharp) and its C IDCT (WebAssembly) agree
    // on every coefficient an encoder writes, not on the out-of-range ones random bits make. The size must agree.
    if (r) {
      decodedBad++;
      const ref = await viaSharp(bytes);
      assert.deepEqual([r.width, r.height], [ref.width, ref.height]);
    }
    assert.ok(decoder.stats().memoryBytes <= MAX_MEMORY, `memory ${decoder.stats().memoryBytes}`);
  }
  const s = decoder.stats();
  assert.equal(s.decoded, decodedBad);
  assert.ok(s.failed > bad.length / 2, `most hostile inputs fail in libjpeg (${s.failed} of ${bad.length})`);
  assert.ok(s.recycled > 0, "libjpeg errors (longjmp) replaced the instance");
  assert.ok(s.declined >= 3, `oversized frames and the many-scan file are declined: ${JSON.stringify(s)}`);
  const r = decoder.decode(good);
  assert.ok(r, "the good image still decodes");
  assert.equal(Buffer.compare(Buffer.from(r.data), Buffer.from(expected.data)), 0);

  // The same through decodeImage: every hostile input ends as sharp's does (same error, or an image of the same
  // size), never a crash or another error.
  for (const bytes of bad.slice(0, 150)) {
    assert.equal(
      await outcome(decodeImage(bytes, { jpegDecoder: "wasm" }), false),
      await outcome(viaSharp(bytes), false),
    );
  }
});

test("an instance whose memory grew past the cap is replaced, and the next decode is still right", async () => {
  const big = await encode(800, 800, { quality: 90, progressive: true });
  const small = await encode(64, 64, { quality: 75 });
  const decoder = new TurboJpegDecoder({ maxMemory: 2 * 1024 * 1024 });
  assert.ok(decoder.decode(big));
  assert.equal(decoder.stats().memoryBytes, 0, "dropped after growing beyond 2 MiB");
  const r = decoder.decode(small);
  assert.ok(r);
  assert.equal(decoder.stats().recycled, 1);
  assert.equal(Buffer.compare(Buffer.from(r.data), Buffer.from((await viaSharp(small)).data)), 0);
});

test("jpegDecoder 'sharp' never uses WebAssembly; 'auto' leaves JPEGs to sharp while the main thread's loop is busy", async () => {
  const bytes = await encode(224, 224, { quality: 75 });
  const expected = await viaSharp(bytes);
  const before = jpegFastPathStats();
  await viaSharp(bytes);
  assert.equal(jpegFastPathStats().decoded, before.decoded);

  // Hold the loop for 400 ms: whichever window the sampler is in, the loop was busy well over 75% of it.
  await decodeImage(bytes, { jpegDecoder: "auto" });
  const until = performance.now() + 400;
  while (performance.now() < until) {
    // busy
  }
  const busyBefore = jpegFastPathStats().busy;
  assertSame(await decodeImage(bytes, { jpegDecoder: "auto" }), expected, "busy auto");
  assert.equal(jpegFastPathStats().busy - busyBefore, 1, "a busy loop sends the JPEG to sharp");

  // After an idle window the loop has time again and the JPEG is decoded here.
  await new Promise((resolve) => setTimeout(resolve, 300));
  await decodeImage(bytes, { jpegDecoder: "auto" }); // closes the idle window
  const decodedBefore = jpegFastPathStats().decoded;
  assertSame(await decodeImage(bytes, { jpegDecoder: "auto" }), expected, "idle auto");
  assert.equal(jpegFastPathStats().decoded - decodedBefore, 1);
});
