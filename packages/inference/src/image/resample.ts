// Pillow's 8-bit resampling (libImaging/Resample.c), ported so that inference sees the same pixels as the
// Python training pipeline (transformers image processors call PIL `Image.resize`). Separable: horizontal pass,
// rounding to uint8, then vertical pass; filters are widened by the scale factor when downscaling (antialiasing);
// coefficients use 22-bit fixed point exactly as Pillow does.

/** PIL resample codes as used in HF preprocessor_config.json. */
export const RESAMPLE = { lanczos: 1, bilinear: 2, bicubic: 3, box: 4, hamming: 5 } as const;

/** A Pillow filter: its support (radius in source pixels at scale 1) and its kernel. */
export interface Filter {
  support: number;
  fn: (x: number) => number;
}

const sinc = (x: number): number => {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
};

/** Pillow's filters by PIL resample code (also the test's reference port uses them). */
export const FILTERS: Record<number, Filter> = {
  1: { support: 3, fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
  2: {
    support: 1,
    fn: (x) => {
      const a = Math.abs(x);
      return a < 1 ? 1 - a : 0;
    },
  },
  3: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      const ax = Math.abs(x);
      if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
      return 0;
    },
  },
  4: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  5: {
    support: 1,
    fn: (x) => {
      const ax = Math.abs(x);
      if (ax === 0) return 1;
      if (ax >= 1) return 0;
      const px = ax * Math.PI;
      return (Math.sin(px) / px) * (0.54 + 0.46 * Math.cos(px));
    },
  },
};

const PRECISION_BITS = 32 - 8 - 2;
/** Pillow's fixed-point one (22 fractional bits). */
export const ONE = 1 << PRECISION_BITS;
const HALF = ONE / 2;

/** One axis's resampling coefficients, as Pillow's precompute_coeffs lays them out. */
export interface Coefficients {
  ksize: number;
  bounds: Int32Array; // [first input index, count] per output pixel
  kk: Int32Array; // fixed-point weights, ksize per output pixel
}

/** Pillow's precompute_coeffs: per output pixel, its first input index, count and fixed-point weights. */
export function precompute(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const weights = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      weights[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      let w = x < xmax ? (weights[x] as number) : 0;
      if (x < xmax && ww !== 0) w /= ww;
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

/** Coefficient tables by (in, out, filter): a model resizes every image between the same few sizes. */
const tables = new Map<string, Coefficients>();
const MAX_TABLES = 64;

function coefficients(inSize: number, outSize: number, resample: number, filter: Filter): Coefficients {
  const key = `${inSize}/${outSize}/${resample}`;
  let c = tables.get(key);
  if (!c) {
    if (tables.size >= MAX_TABLES) tables.clear();
    c = precompute(inSize, outSize, filter);
    tables.set(key, c);
  }
  return c;
}

// Sums stay within int32 (255 × the filter's positive weights < 2^31 for every filter here, as Pillow's own int32
// sums), so `| 0` keeps V8 on integer arithmetic.

/** Pillow's clip8: the fixed-point sum back to 0..255. */
const clip8 = (v: number): number => (v <= 0 ? 0 : v >= ONE * 256 ? 255 : v >> PRECISION_BITS);

/**
 * The horizontal pass over source rows [y0, y1): output columns [x0, x0 + outW) of the full-width resize, as
 * interleaved RGB rows of outW pixels.
 */
function horizontal(
  src: Uint8Array,
  width: number,
  y0: number,
  y1: number,
  c: Coefficients,
  x0: number,
  outW: number,
): Uint8Array {
  const { ksize, bounds, kk } = c;
  const out = new Uint8Array(outW * (y1 - y0) * 3);
  let o = 0;
  for (let y = y0; y < y1; y++) {
    const row = y * width * 3;
    for (let x = x0; x < x0 + outW; x++) {
      const n = bounds[x * 2 + 1] as number;
      const k0 = x * ksize;
      let p = row + (bounds[x * 2] as number) * 3;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      for (let t = 0; t < n; t++) {
        const k = kk[k0 + t] as number;
        s0 = (s0 + (src[p] as number) * k) | 0;
        s1 = (s1 + (src[p + 1] as number) * k) | 0;
        s2 = (s2 + (src[p + 2] as number) * k) | 0;
        p += 3;
      }
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
      o += 3;
    }
  }
  return out;
}

/**
 * The vertical pass: output rows [top, top + outH) of the full-height resize, from `src` holding source rows from
 * y0 on, `rowBytes` per row.
 */
function vertical(
  src: Uint8Array,
  rowBytes: number,
  y0: number,
  c: Coefficients,
  top: number,
  outH: number,
): Uint8Array {
  const { ksize, bounds, kk } = c;
  const out = new Uint8Array(rowBytes * outH);
  let o = 0;
  for (let y = top; y < top + outH; y++) {
    const first = ((bounds[y * 2] as number) - y0) * rowBytes;
    const n = bounds[y * 2 + 1] as number;
    const k0 = y * ksize;
    for (let i = 0; i < rowBytes; i += 3) {
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      let p = first + i;
      for (let t = 0; t < n; t++) {
        const k = kk[k0 + t] as number;
        s0 = (s0 + (src[p] as number) * k) | 0;
        s1 = (s1 + (src[p + 1] as number) * k) | 0;
        s2 = (s2 + (src[p + 2] as number) * k) | 0;
        p += rowBytes;
      }
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
      o += 3;
    }
  }
  return out;
}

/** A window of the resized image, in its coordinates: resizeRgb computes only these pixels. */
export interface ResizeWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Resizes interleaved 8-bit RGB (HWC) like PIL `Image.resize((outW, outH), resample)`. With `window`, only that part
 * of the resized image is computed and returned (the same pixels as cropping the full result, as Pillow's own
 * resize skips source rows no output row needs): a resize followed by a centre crop does the crop's work only.
 */
export function resizeRgb(
  src: Uint8Array,
  width: number,
  height: number,
  outW: number,
  outH: number,
  resample: number,
  window: ResizeWindow = { left: 0, top: 0, width: outW, height: outH },
): Uint8Array {
  const filter = FILTERS[resample];
  if (!filter) {
    throw new RangeError(`resample ${resample} is not supported (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)`);
  }
  const { left, top, width: w, height: h } = window;
  if (left < 0 || top < 0 || w < 1 || h < 1 || left + w > outW || top + h > outH) {
    throw new RangeError(`window ${w}x${h} at ${left},${top} is not inside the ${outW}x${outH} result`);
  }
  const vc = outH !== height ? coefficients(height, outH, resample, filter) : undefined;
  // The source rows the output rows need (all of them for a plain resize).
  let y0 = top;
  let y1 = top + h;
  if (vc) {
    y0 = vc.bounds[top * 2] as number;
    y1 = 0;
    for (let y = top; y < top + h; y++)
      y1 = Math.max(y1, (vc.bounds[y * 2] as number) + (vc.bounds[y * 2 + 1] as number));
  }
  let rows: Uint8Array;
  if (outW !== width) {
    rows = horizontal(src, width, y0, y1, coefficients(width, outW, resample, filter), left, w);
  } else if (left === 0 && w === width) {
    rows = src.subarray(y0 * width * 3, y1 * width * 3);
  } else {
    rows = new Uint8Array(w * (y1 - y0) * 3);
    for (let y = y0; y < y1; y++) {
      rows.set(src.subarray((y * width + left) * 3, (y * width + left + w) * 3), (y - y0) * w * 3);
    }
  }
  const out = vc ? vertical(rows, w * 3, y0, vc, top, h) : rows;
  return out.buffer === src.buffer ? out.slice() : out;
}
