// Could a stretched 1920×1080 → 224×224 JPEG decode use a larger shrink-on-load factor than sharp picks (1/2)?
// sharp exposes no shrink option for buffers; libvips reads one from a file name ("f.jpg[shrink=4]"). This compares,
// on a street-like 1920×1080 q75 frame, each factor's 224×224 result with a full decode + the same cubic reduction
// (mean |Δ| in levels) and its time. Prints JSON.
//
//   node --import tsx bench/shrink-factor.ts [--runs 30]
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { challengeImages } from "./lib/images.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "30" } } });
const runs = Number(values.runs);
const [jpeg] = await challengeImages(1, 7, 1920, 1080);
if (!jpeg) throw new Error("no frame");
const dir = await mkdtemp(join(tmpdir(), "roadwork-shrink-"));
const file = join(dir, "frame.jpg");
await writeFile(file, jpeg);
const to224 = { width: 224, height: 224, fit: "fill" as const, kernel: "cubic" as const };
const full = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
const reference = await sharp(full.data, { raw: { width: full.info.width, height: full.info.height, channels: 3 } })
  .resize(to224)
  .raw()
  .toBuffer();
const meanAbs = (a: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - (reference[i] as number)), 0) / a.length;
const time = async (f: () => Promise<unknown>) => {
  for (let i = 0; i < 5; i++) await f();
  const t = performance.now();
  for (let i = 0; i < runs; i++) await f();
  return +((performance.now() - t) / runs).toFixed(2);
};
const variants: Record<string, () => Promise<Buffer>> = {
  "sharp default (buffer, picks 1/2)": () =>
    sharp(jpeg)
      .resize({ ...to224, fastShrinkOnLoad: true })
      .raw()
      .toBuffer(),
  "file, shrink=2": () => sharp(`${file}[shrink=2]`).resize(to224).raw().toBuffer(),
  "file, shrink=4": () => sharp(`${file}[shrink=4]`).resize(to224).raw().toBuffer(),
  "file, shrink=8 (135 rows: upscaled)": () => sharp(`${file}[shrink=8]`).resize(to224).raw().toBuffer(),
  "full decode, then the cubic reduction (the reference)": async () => {
    const d = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    return sharp(d.data, { raw: { width: d.info.width, height: d.info.height, channels: 3 } })
      .resize(to224)
      .raw()
      .toBuffer();
  },
};
const results: Record<string, { meanAbsDiffLevels: number; ms: number }> = {};
for (const [name, f] of Object.entries(variants)) {
  results[name] = { meanAbsDiffLevels: +meanAbs(await f()).toFixed(3), ms: await time(f) };
}
await rm(dir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({ benchmark: "JPEG shrink-on-load factor, 1920x1080 q75 -> 224x224", loadAverage1m: +loadavg()[0]!.toFixed(2), runs, results }, null, 2)}\n`,
);
