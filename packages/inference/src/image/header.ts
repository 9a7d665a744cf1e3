// Image dimensions from the container header alone, in microseconds and without native code: the pixel budget can be
// checked (and a decode planned) before any decoder touches the bytes. JPEG, PNG and WebP, the formats the axon
// accepts; anything else is `undefined`, and decodeImage asks sharp what it is, to name it in the error.

/** What the header says. width/height are as stored; `orientation` (EXIF, JPEG only) says whether they swap on display. */
export interface ImageHeader {
  format: "jpeg" | "png" | "webp";
  width: number;
  height: number;
  /** EXIF orientation 1-8 (1 when absent); 5-8 turn the image a quarter, so the displayed width is `height`. */
  orientation: number;
  /** JPEG: colour components (1 gray, 3 YCbCr, 4 CMYK). PNG: 1 gray, 2 gray+alpha, 3 RGB or palette, 4 RGBA. */
  channels: number;
  /** PNG bit depth above 8, or a JPEG that is not baseline/progressive 8-bit: decoded through sharp's full pipeline. */
  wide: boolean;
  /** Whether the header promises an alpha channel (PNG colour type 4/6 or tRNS not checked; WebP VP8X/VP8L flag). */
  alpha: boolean;
  /** JPEG: true when an ICC profile (APP2 ICC_PROFILE) precedes the frame header; sharp converts such pixels to sRGB. */
  icc?: boolean;
}

/** The size the image has once EXIF orientation is applied. */
export function displaySize(h: ImageHeader): { width: number; height: number } {
  return h.orientation >= 5 ? { width: h.height, height: h.width } : { width: h.width, height: h.height };
}

/** The header of a JPEG, PNG or WebP; undefined for other or unreadable bytes (never throws, never decodes). */
export function readImageHeader(bytes: Uint8Array): ImageHeader | undefined {
  try {
    if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return jpegHeader(bytes);
    if (bytes.length >= 24 && isPng(bytes)) return pngHeader(bytes);
    if (bytes.length >= 30 && ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 4) === "WEBP") return webpHeader(bytes);
  } catch {
    return undefined;
  }
  return undefined;
}

const ascii = (b: Uint8Array, at: number, n: number): string => String.fromCharCode(...b.subarray(at, at + n));
const u16be = (b: Uint8Array, at: number): number => ((b[at] as number) << 8) | (b[at + 1] as number);
const u32be = (b: Uint8Array, at: number): number => u16be(b, at) * 65536 + u16be(b, at + 2);
const u16le = (b: Uint8Array, at: number): number => (b[at] as number) | ((b[at + 1] as number) << 8);
const u24le = (b: Uint8Array, at: number): number => u16le(b, at) | ((b[at + 2] as number) << 16);

function isPng(b: Uint8Array): boolean {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  return sig.every((v, i) => b[i] === v) && ascii(b, 12, 4) === "IHDR";
}

function pngHeader(b: Uint8Array): ImageHeader | undefined {
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  const depth = b[24] as number;
  const colourType = b[25] as number;
  const channels = ({ 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 } as Record<number, number>)[colourType];
  if (channels === undefined) return undefined;
  return { format: "png", width, height, orientation: 1, channels, wide: depth > 8, alpha: channels % 2 === 0 };
}

function webpHeader(b: Uint8Array): ImageHeader | undefined {
  const chunk = ascii(b, 12, 4);
  if (chunk === "VP8X") {
    const flags = b[20] as number;
    return {
      format: "webp",
      width: u24le(b, 24) + 1,
      height: u24le(b, 27) + 1,
      orientation: 1,
      channels: 3,
      wide: false,
      alpha: (flags & 0x10) !== 0,
    };
  }
  if (chunk === "VP8L") {
    if (b[20] !== 0x2f) return undefined;
    const bits = (b[21] as number) | ((b[22] as number) << 8) | ((b[23] as number) << 16) | ((b[24] as number) << 24);
    return {
      format: "webp",
      width: (bits & 0x3fff) + 1,
      height: ((bits >>> 14) & 0x3fff) + 1,
      orientation: 1,
      channels: 3,
      wide: false,
      alpha: ((bits >>> 28) & 1) === 1,
    };
  }
  if (chunk === "VP8 ") {
    // Key frame start code 9d 01 2a, then 14-bit width and height.
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return undefined;
    return {
      format: "webp",
      width: u16le(b, 26) & 0x3fff,
      height: u16le(b, 28) & 0x3fff,
      orientation: 1,
      channels: 3,
      wide: false,
      alpha: false,
    };
  }
  return undefined;
}

/** Walks the JPEG markers up to the first start-of-frame, reading the EXIF orientation on the way. */
function jpegHeader(b: Uint8Array): ImageHeader | undefined {
  let at = 2;
  let orientation = 1;
  let icc = false;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return undefined;
    const marker = b[at + 1] as number;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    const length = u16be(b, at + 2);
    if (length < 2) return undefined;
    const body = at + 4;
    if (marker === 0xe1 && ascii(b, body, 6) === "Exif\0\0")
      orientation = exifOrientation(b, body + 6, at + 2 + length);
    if (marker === 0xe2 && ascii(b, body, 12) === "ICC_PROFILE\0") icc = true;
    // SOF0-15 except DHT (c4), JPG (c8) and DAC (cc).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (body + 6 > b.length) return undefined;
      const precision = b[body] as number;
      const height = u16be(b, body + 1);
      const width = u16be(b, body + 3);
      const channels = b[body + 5] as number;
      // Baseline (c0), extended (c1) and progressive (c2) 8-bit Huffman JPEGs are the common case.
      const wide = precision !== 8 || marker > 0xc2;
      return { format: "jpeg", width, height, orientation, channels, wide, alpha: false, ...(icc ? { icc } : {}) };
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // scan data before any frame header
    at += 2 + length;
  }
  return undefined;
}

/** Orientation (tag 0x0112) from IFD0 of an EXIF TIFF block in [start, end); 1 when absent or malformed. */
function exifOrientation(b: Uint8Array, start: number, end: number): number {
  const limit = Math.min(end, b.length);
  if (start + 8 > limit) return 1;
  const little = ascii(b, start, 2) === "II";
  const r16 = (at: number) => (little ? u16le(b, at) : u16be(b, at));
  const r32 = (at: number) => (little ? u16le(b, at) + u16le(b, at + 2) * 65536 : u32be(b, at));
  const ifd = start + r32(start + 4);
  if (ifd + 2 > limit) return 1;
  const entries = r16(ifd);
  for (let i = 0; i < entries; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > limit) return 1;
    if (r16(e) === 0x0112) {
      const v = r16(e + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}
