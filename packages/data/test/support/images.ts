// Small real images for dataset tests: a coarse random block pattern per seed (distinct seeds → distant perceptual
// hashes), and re-encodings of one pattern (near duplicates: other bytes, same picture).
import sharp from "sharp";
import { Prng } from "../../src/prng.ts";

export async function blockImage(
  seed: number,
  options: { size?: number; quality?: number; format?: "jpeg" | "png" } = {},
): Promise<Uint8Array> {
  const size = options.size ?? 96;
  const prng = new Prng(`blocks:${seed}`);
  const cells = 8;
  const raw = Buffer.alloc(cells * cells * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(prng.next() * 256);
  const img = sharp(raw, { raw: { width: cells, height: cells, channels: 3 } }).resize(size, size, {
    kernel: "nearest",
  });
  const out =
    options.format === "png"
      ? await img.png().toBuffer()
      : await img.jpeg({ quality: options.quality ?? 90 }).toBuffer();
  return new Uint8Array(out);
}
