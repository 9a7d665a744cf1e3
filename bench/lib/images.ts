// Challenge images as validators send them: 224x224 baseline JPEGs at PIL's default quality 75 with 4:2:0
// subsampling. Street-like scenes (sky, road, lane marks, cones, noise) drawn from a seed, so every run sends the same
// bytes and each image compresses like a photo (about 10-20 KB), not like a flat test card.
import sharp from "sharp";

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

function sceneSvg(seed: number, width: number, height: number): string {
  const r = prng(seed);
  const c = (lo: number, hi: number) => Math.round(lo + r() * (hi - lo));
  const horizon = c(80, 120);
  const parts: string[] = [
    `<rect width="224" height="${horizon}" fill="rgb(${c(90, 170)},${c(120, 190)},${c(170, 240)})"/>`,
    `<rect y="${horizon}" width="224" height="${224 - horizon}" fill="rgb(${c(60, 110)},${c(90, 130)},${c(50, 90)})"/>`,
    `<polygon points="${c(95, 110)},${horizon} ${c(114, 129)},${horizon} 224,224 0,224" fill="rgb(${c(60, 95)},${c(60, 95)},${c(60, 95)})"/>`,
  ];
  for (let i = 0; i < 6; i++) {
    const y = horizon + (224 - horizon) * (i / 6);
    parts.push(`<rect x="${110 - i}" y="${y.toFixed(1)}" width="${2 + i}" height="${4 + i * 2}" fill="#eee"/>`);
  }
  for (let i = 0, n = c(2, 9); i < n; i++) {
    const x = c(10, 200);
    const y = c(horizon, 215);
    const w = c(12, 60);
    const h = c(10, 70);
    parts.push(
      `<rect x="${x}" y="${y - h}" width="${w}" height="${h}" fill="rgb(${c(0, 255)},${c(0, 255)},${c(0, 255)})"/>`,
    );
  }
  for (let i = 0, n = c(0, 6); i < n; i++) {
    const x = c(20, 200);
    const y = c(horizon + 20, 220);
    parts.push(`<polygon points="${x},${y - 22} ${x - 8},${y} ${x + 8},${y}" fill="rgb(255,${c(90, 140)},0)"/>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 224 224" preserveAspectRatio="none">${parts.join("")}</svg>`;
}

/**
 * `count` distinct JPEGs, deterministic in `seed`. Larger sizes are the native-resolution series: the same kind of
 * scene drawn at width × height (1920×1080 dashcam-like, 1024×1024 synthetic-like); with the same sensor-like noise a
 * 1920×1080 frame compresses to ~250 KB, about what a real q75 dashcam photo weighs.
 */
export async function challengeImages(count: number, seed = 1, width = 224, height = 224): Promise<Uint8Array[]> {
  const images: Uint8Array[] = [];
  const noise = 24;
  for (let i = 0; i < count; i++) {
    const { data, info } = await sharp(Buffer.from(sceneSvg(seed * 1_000_003 + i, width, height)))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    // Sensor-like noise so the JPEG carries texture the decoder must work through.
    const r = prng(seed * 7919 + i);
    for (let p = 0; p < data.length; p++)
      data[p] = Math.max(0, Math.min(255, (data[p] as number) + (r() - 0.5) * noise));
    const jpeg = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
      .jpeg({ quality: 75, chromaSubsampling: "4:2:0", mozjpeg: false })
      .toBuffer();
    images.push(new Uint8Array(jpeg));
  }
  return images;
}

/** Same pixels, different bytes: a COM segment right after SOI carries `n`, so the axon's result cache never hits. */
export function uniqueJpeg(jpeg: Uint8Array, n: number): Uint8Array {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return jpeg;
  const text = Buffer.from(`roadwork-bench ${n}`);
  const segment = Buffer.alloc(4 + text.length);
  segment.writeUInt16BE(0xfffe, 0);
  segment.writeUInt16BE(2 + text.length, 2);
  text.copy(segment, 4);
  return Buffer.concat([jpeg.subarray(0, 2), segment, jpeg.subarray(2)]);
}
