// Pillow's 8-bit resampling (libImaging/Resample.c), ported so that inference sees the same pixels as the
// Python training pipeline (transformers image processors call PIL `Image.resize`). Separable: horizontal pass,
// rounding to uint8, then vertical pass; filters are widened by the scale factor when downscaling (antialiasing);
// coefficients use 22-bit fixed point exactly as Pillow does.

/** PIL resample codes as used in HF preprocessor_config.json. */
export const RESAMPLE = { lanczos: 1, bilinear: 2, bicubic: 3, box: 4, hamming: 5 } as const;

interface Filter {
  support: number;
  fn: (x: number) => number;
}

const sinc = (x: number): number => {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
};

const FILTERS: Record<number, Filter> = {
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
const ONE = 1 << PRECISION_BITS;

interface Coefficients {
  ksize: number;
  bounds: Int32Array; // [first input index, count] per output pixel
  kk: Int32Array; // fixed-point weights, ksize per output pixel
}

function precompute(inSize: number, outSize: number, filter: Filter): Coefficients {
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

const clip8 = (v: number): number => {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE);
};

/** One separable pass over interleaved RGB; `horizontal` picks the axis. */
function pass(
  src: Uint8Array,
  width: number,
  height: number,
  outSize: number,
  filter: Filter,
  horizontal: boolean,
): Uint8Array {
  const { ksize, bounds, kk } = precompute(horizontal ? width : height, outSize, filter);
  const outW = horizontal ? outSize : width;
  const outH = horizontal ? height : outSize;
  const out = new Uint8Array(outW * outH * 3);
  const half = ONE / 2;
  // Stride (in bytes) between neighbouring taps along the resampled axis.
  const step = horizontal ? 3 : width * 3;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const i = horizontal ? x : y;
      const first = bounds[i * 2] as number;
      const n = bounds[i * 2 + 1] as number;
      let p = horizontal ? (y * width + first) * 3 : (first * width + x) * 3;
      let s0 = half;
      let s1 = half;
      let s2 = half;
      for (let t = 0; t < n; t++) {
        const k = kk[i * ksize + t] as number;
        s0 += (src[p] as number) * k;
        s1 += (src[p + 1] as number) * k;
        s2 += (src[p + 2] as number) * k;
        p += step;
      }
      const o = (y * outW + x) * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return out;
}

/** Resizes interleaved 8-bit RGB (HWC) like PIL `Image.resize((outW, outH), resample)`. */
export function resizeRgb(
  src: Uint8Array,
  width: number,
  height: number,
  outW: number,
  outH: number,
  resample: number,
): Uint8Array {
  const filter = FILTERS[resample];
  if (!filter) {
    throw new RangeError(`resample ${resample} is not supported (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)`);
  }
  let current = src;
  if (outW !== width) current = pass(current, width, height, outW, filter, true);
  if (outH !== height) current = pass(current, outW, height, outH, filter, false);
  return current === src ? src.slice() : current;
}
