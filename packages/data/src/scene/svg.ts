// Small SVG vocabulary for the procedural scenes: colours with jitter and shape strings.
import type { Prng } from "../prng.ts";

export type Rgb = readonly [number, number, number];

export function rgb(c: Rgb, alpha = 1): string {
  const [r, g, b] = c.map((v) => Math.max(0, Math.min(255, Math.round(v))));
  return alpha >= 1 ? `rgb(${r},${g},${b})` : `rgba(${r},${g},${b},${alpha.toFixed(3)})`;
}

/** Jitters each channel by up to ±amount and scales brightness by `shade`. */
export function jitter(rng: Prng, c: Rgb, amount = 14, shade = 1): Rgb {
  return [
    (c[0] + rng.uniform(-amount, amount)) * shade,
    (c[1] + rng.uniform(-amount, amount)) * shade,
    (c[2] + rng.uniform(-amount, amount)) * shade,
  ];
}

export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

const f = (v: number): string => (Math.round(v * 10) / 10).toString();

export function rect(x: number, y: number, w: number, h: number, fill: string, extra = ""): string {
  return `<rect x="${f(x)}" y="${f(y)}" width="${f(Math.max(0, w))}" height="${f(Math.max(0, h))}" fill="${fill}" ${extra}/>`;
}

export function poly(points: ReadonlyArray<readonly [number, number]>, fill: string, extra = ""): string {
  return `<polygon points="${points.map(([x, y]) => `${f(x)},${f(y)}`).join(" ")}" fill="${fill}" ${extra}/>`;
}

export function circle(cx: number, cy: number, r: number, fill: string, extra = ""): string {
  return `<circle cx="${f(cx)}" cy="${f(cy)}" r="${f(Math.max(0, r))}" fill="${fill}" ${extra}/>`;
}

export function ellipse(cx: number, cy: number, rx: number, ry: number, fill: string, extra = ""): string {
  return `<ellipse cx="${f(cx)}" cy="${f(cy)}" rx="${f(Math.max(0, rx))}" ry="${f(Math.max(0, ry))}" fill="${fill}" ${extra}/>`;
}

export function line(
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  stroke: string,
  width: number,
  extra = "",
): string {
  return `<line x1="${f(x1)}" y1="${f(y1)}" x2="${f(x2)}" y2="${f(y2)}" stroke="${stroke}" stroke-width="${f(Math.max(0.3, width))}" ${extra}/>`;
}

export function glow(cx: number, cy: number, r: number, id: string): string {
  return circle(cx, cy, r, `url(#${id})`);
}
