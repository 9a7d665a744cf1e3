// Synthetic probe images: generated, not shipped, so every load can check a model end to end (finite outputs,
// plausible range, latency) and warm its sessions up before it serves a single request.
import type { RgbImage } from "./image/decode.ts";
import { seededRandom } from "./onnx/tiny-classifier.ts";

export function probeImages(width = 256, height = 192): { name: string; image: RgbImage }[] {
  const size = width * height * 3;
  const gray = new Uint8Array(size).fill(128);
  const rand = seededRandom(72);
  const noise = Uint8Array.from({ length: size }, () => Math.floor(rand() * 256));
  const scene = new Uint8Array(size);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const cone = Math.abs(x - width / 2) < (y - height / 3) / 2 && y > height / 3;
      const sky = y < height / 3;
      scene[o] = cone ? 240 : sky ? 120 : 90;
      scene[o + 1] = cone ? 120 : sky ? 160 : 90;
      scene[o + 2] = cone ? 20 : sky ? 230 : 95;
    }
  }
  const make = (data: Uint8Array): RgbImage => ({ data, width, height, format: "raw" });
  return [
    { name: "gray", image: make(gray) },
    { name: "noise", image: make(noise) },
    { name: "cone", image: make(scene) },
  ];
}
