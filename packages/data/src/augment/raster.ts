// Float RGB rasters (HWC, values 0..255) and the pixel operations the validator augmentations are made of.

export interface Raster {
  width: number;
  height: number;
  /** Interleaved RGB, row-major, 0..255 (not clamped between steps, as with float tensors). */
  data: Float32Array;
}

export function createRaster(width: number, height: number): Raster {
  return { width, height, data: new Float32Array(width * height * 3) };
}

export function fromBytes(bytes: Uint8Array, width: number, height: number): Raster {
  if (bytes.length !== width * height * 3)
    throw new RangeError(`expected ${width * height * 3} RGB bytes, got ${bytes.length}`);
  return { width, height, data: Float32Array.from(bytes) };
}

/** Rounds and clamps to bytes, as ToPILImage / astype(uint8) after clipping do. */
export function toBytes(r: Raster): Uint8Array {
  const out = new Uint8Array(r.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = Math.round(r.data[i]!);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

/** Truncating uint8 cast after clipping (numpy `astype(np.uint8)` on a clipped float image). */
export function quantizeTruncate(r: Raster): Raster {
  const data = new Float32Array(r.data.length);
  for (let i = 0; i < data.length; i++) {
    const v = r.data[i]!;
    data[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v);
  }
  return { width: r.width, height: r.height, data };
}

export function crop(r: Raster, left: number, top: number, width: number, height: number): Raster {
  if (left < 0 || top < 0 || left + width > r.width || top + height > r.height || width <= 0 || height <= 0) {
    throw new RangeError(`crop ${width}x${height}+${left}+${top} outside ${r.width}x${r.height}`);
  }
  const out = createRaster(width, height);
  for (let y = 0; y < height; y++) {
    const src = ((top + y) * r.width + left) * 3;
    out.data.set(r.data.subarray(src, src + width * 3), y * width * 3);
  }
  return out;
}

/** Rotation about the centre by `degrees` counter-clockwise, bilinear, same size, zero fill (torchvision rotate). */
export function rotate(r: Raster, degrees: number): Raster {
  const out = createRaster(r.width, r.height);
  const a = (degrees * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  const cx = (r.width - 1) / 2;
  const cy = (r.height - 1) / 2;
  for (let y = 0; y < r.height; y++) {
    for (let x = 0; x < r.width; x++) {
      // Inverse mapping: output pixel → source position (image y axis points down).
      const dx = x - cx;
      const dy = y - cy;
      const sx = cos * dx - sin * dy + cx;
      const sy = sin * dx + cos * dy + cy;
      const o = (y * r.width + x) * 3;
      sampleBilinearZero(r, sx, sy, out.data, o);
    }
  }
  return out;
}

function sampleBilinearZero(r: Raster, sx: number, sy: number, out: Float32Array, o: number): void {
  const x0 = Math.floor(sx);
  const y0 = Math.floor(sy);
  const fx = sx - x0;
  const fy = sy - y0;
  for (let c = 0; c < 3; c++) {
    let acc = 0;
    for (let j = 0; j < 2; j++) {
      const yy = y0 + j;
      if (yy < 0 || yy >= r.height) continue;
      const wy = j === 0 ? 1 - fy : fy;
      for (let i = 0; i < 2; i++) {
        const xx = x0 + i;
        if (xx < 0 || xx >= r.width) continue;
        const wx = i === 0 ? 1 - fx : fx;
        acc += wx * wy * r.data[(yy * r.width + xx) * 3 + c]!;
      }
    }
    out[o + c] = acc;
  }
}

/** Separable triangle-filter resampling; with `antialias` the filter widens when shrinking (PIL / torchvision
 * antialiased bilinear), without it this is plain bilinear with half-pixel centres (cv2.INTER_LINEAR). */
export function resize(r: Raster, width: number, height: number, antialias = true): Raster {
  const horizontal = resample1d(r.data, r.width, r.height, width, antialias, true);
  const vertical = resample1d(horizontal, width, r.height, height, antialias, false);
  return { width, height, data: vertical };
}

function resample1d(
  src: Float32Array,
  w: number,
  h: number,
  outSize: number,
  antialias: boolean,
  alongX: boolean,
): Float32Array {
  const inSize = alongX ? w : h;
  const scale = inSize / outSize;
  const support = antialias && scale > 1 ? scale : 1;
  const outW = alongX ? outSize : w;
  const outH = alongX ? h : outSize;
  const out = new Float32Array(outW * outH * 3);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale - 0.5;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inSize - 1, Math.ceil(center + support));
    const weights: number[] = [];
    let sum = 0;
    for (let k = lo; k <= hi; k++) {
      const wgt = Math.max(0, 1 - Math.abs(k - center) / support);
      weights.push(wgt);
      sum += wgt;
    }
    if (sum === 0) {
      // Outside the source (cannot happen for valid sizes); clamp to the nearest pixel.
      weights.length = 0;
      const k = Math.min(inSize - 1, Math.max(0, Math.round(center)));
      for (let i = lo; i <= hi; i++) weights.push(i === k ? 1 : 0);
      sum = 1;
    }
    const lines = alongX ? h : w;
    for (let l = 0; l < lines; l++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let k = lo; k <= hi; k++) {
          const idx = alongX ? (l * w + k) * 3 + c : (k * w + l) * 3 + c;
          acc += weights[k - lo]! * src[idx]!;
        }
        const oi = alongX ? (l * outW + o) * 3 + c : (o * outW + l) * 3 + c;
        out[oi] = acc / sum;
      }
    }
  }
  return out;
}

/** Gaussian blur with a k×k kernel and sigma (cv2.GaussianBlur, BORDER_REFLECT_101). */
export function gaussianBlur(r: Raster, k: number, sigma: number): Raster {
  const half = (k - 1) / 2;
  const kernel: number[] = [];
  let sum = 0;
  for (let i = -half; i <= half; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    kernel.push(v);
    sum += v;
  }
  for (let i = 0; i < kernel.length; i++) kernel[i]! /= sum;
  const reflect = (i: number, n: number): number => {
    if (n === 1) return 0;
    let j = i;
    while (j < 0 || j >= n) j = j < 0 ? -j : 2 * n - 2 - j;
    return j;
  };
  const { width: w, height: h } = r;
  const tmp = new Float32Array(r.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let t = -half; t <= half; t++) acc += kernel[t + half]! * r.data[(y * w + reflect(x + t, w)) * 3 + c]!;
        tmp[(y * w + x) * 3 + c] = acc;
      }
    }
  }
  const out = new Float32Array(r.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let t = -half; t <= half; t++) acc += kernel[t + half]! * tmp[(reflect(y + t, h) * w + x) * 3 + c]!;
        out[(y * w + x) * 3 + c] = acc;
      }
    }
  }
  return { width: w, height: h, data: out };
}

/** Full-range BT.601 (JPEG) RGB → YCbCr, in place on a copy. */
export function rgbToYcbcr(r: Raster): Raster {
  const out = new Float32Array(r.data.length);
  for (let i = 0; i < out.length; i += 3) {
    const R = r.data[i]!;
    const G = r.data[i + 1]!;
    const B = r.data[i + 2]!;
    out[i] = 0.299 * R + 0.587 * G + 0.114 * B;
    out[i + 1] = 128 - 0.168736 * R - 0.331264 * G + 0.5 * B;
    out[i + 2] = 128 + 0.5 * R - 0.418688 * G - 0.081312 * B;
  }
  return { width: r.width, height: r.height, data: out };
}

export function ycbcrToRgb(r: Raster): Raster {
  const out = new Float32Array(r.data.length);
  for (let i = 0; i < out.length; i += 3) {
    const Y = r.data[i]!;
    const Cb = r.data[i + 1]! - 128;
    const Cr = r.data[i + 2]! - 128;
    out[i] = Y + 1.402 * Cr;
    out[i + 1] = Y - 0.344136 * Cb - 0.714136 * Cr;
    out[i + 2] = Y + 1.772 * Cb;
  }
  return { width: r.width, height: r.height, data: out };
}
