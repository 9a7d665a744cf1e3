// Street objects drawn in SVG at a screen anchor (bottom centre, on the ground) and a scale in pixels per metre.
// Each drawer returns the body and, separately, what emits or reflects light (drawn above the night overlay).
import type { Prng } from "../prng.ts";
import { circle, ellipse, jitter, line, poly, type Rgb, rect, rgb } from "./svg.ts";

export interface Drawn {
  body: string;
  /** Lamps, beacons and retro-reflective strips: stay bright at night. */
  light: string;
}

const ORANGE: Rgb = [255, 106, 0];
const HIVIS_YELLOW: Rgb = [214, 255, 40];
const HIVIS_ORANGE: Rgb = [255, 120, 20];
const MACHINE_YELLOW: Rgb = [244, 180, 0];
const SKIN: Rgb[] = [
  [241, 194, 160],
  [198, 134, 90],
  [141, 85, 54],
  [224, 172, 125],
];

export function cone(rng: Prng, x: number, y: number, p: number): Drawn {
  const h = 0.9 * p * rng.uniform(0.85, 1.15);
  const wb = 0.42 * p;
  const wt = 0.08 * p;
  const body = rgb(jitter(rng, ORANGE, 16));
  const band = (t0: number, t1: number): Array<[number, number]> => {
    const w0 = wb + (wt - wb) * t0;
    const w1 = wb + (wt - wb) * t1;
    return [
      [x - w0 / 2, y - h * t0],
      [x + w0 / 2, y - h * t0],
      [x + w1 / 2, y - h * t1],
      [x - w1 / 2, y - h * t1],
    ];
  };
  const white = rgb([245, 245, 240]);
  const light = poly(band(0.3, 0.42), white, 'opacity="0.85"') + poly(band(0.58, 0.68), white, 'opacity="0.85"');
  return {
    body:
      rect(x - 0.24 * p, y - 0.05 * p, 0.48 * p, 0.05 * p, rgb([30, 30, 30])) +
      poly(
        [
          [x - wb / 2, y - 0.04 * p],
          [x + wb / 2, y - 0.04 * p],
          [x + wt / 2, y - h],
          [x - wt / 2, y - h],
        ],
        body,
      ) +
      poly(band(0.3, 0.42), white) +
      poly(band(0.58, 0.68), white),
    light,
  };
}

export function barrier(rng: Prng, x: number, y: number, p: number): Drawn {
  const kind = rng.pick(["board", "jersey"] as const);
  const w = rng.uniform(2, 3.2) * p;
  const red: Rgb = rng.chance(0.6) ? [220, 30, 30] : ORANGE;
  const white = rgb([245, 245, 245]);
  let body = "";
  let light = "";
  if (kind === "board") {
    const top = y - 1.0 * p;
    const bh = 0.28 * p;
    // legs
    body +=
      rect(x - w / 2, top, 0.06 * p, 1.0 * p, rgb([60, 60, 60])) +
      rect(x + w / 2 - 0.06 * p, top, 0.06 * p, 1.0 * p, rgb([60, 60, 60]));
    for (const row of rng.chance(0.5) ? [0, 1] : [0]) {
      const by = top + row * 0.42 * p;
      body += rect(x - w / 2, by, w, bh, white);
      const n = Math.max(3, Math.round(w / (0.35 * p)));
      const sw = w / n;
      let stripes = "";
      for (let i = 0; i < n - 1; i += 2) {
        const x0 = x - w / 2 + i * sw;
        stripes += poly(
          [
            [x0, by + bh],
            [x0 + sw * 0.6, by],
            [x0 + sw * 1.6, by],
            [x0 + sw, by + bh],
          ],
          rgb(jitter(rng, red, 10)),
        );
      }
      body += stripes;
      light += rect(x - w / 2, by, w, bh * 0.25, white, 'opacity="0.6"');
    }
    if (rng.chance(0.5)) light += circle(x - w / 2, top - 0.1 * p, 0.08 * p, rgb([255, 190, 40]));
  } else {
    const h = 0.8 * p;
    const n = Math.max(2, Math.round(w / (0.5 * p)));
    const sw = w / n;
    for (let i = 0; i < n; i++) {
      const c = i % 2 === 0 ? rgb(jitter(rng, red, 10)) : white;
      body += poly(
        [
          [x - w / 2 + i * sw, y],
          [x - w / 2 + (i + 1) * sw, y],
          [x - w / 2 + (i + 1) * sw - 0.05 * p, y - h],
          [x - w / 2 + i * sw + 0.05 * p, y - h],
        ],
        c,
      );
    }
    light += rect(x - w / 2, y - h * 0.6, w, 0.06 * p, white, 'opacity="0.5"');
  }
  return { body, light };
}

/** A roadwork sign: European red-bordered triangle or US orange diamond, with a digging-worker glyph. */
export function roadworkSign(rng: Prng, x: number, y: number, p: number): Drawn {
  const s = rng.uniform(0.95, 1.25) * p;
  const postH = rng.uniform(1.3, 2.0) * p;
  const cy = y - postH - s * 0.4;
  let body = rect(x - 0.03 * p, y - postH, 0.06 * p, postH, rgb([110, 110, 115]));
  if (rng.chance(0.3)) {
    // tripod stand
    body += line(x, y - postH * 0.5, x - 0.35 * p, y, rgb([90, 90, 90]), 0.04 * p);
    body += line(x, y - postH * 0.5, x + 0.35 * p, y, rgb([90, 90, 90]), 0.04 * p);
  }
  let face: string;
  if (rng.chance(0.55)) {
    const tri = (k: number): Array<[number, number]> => [
      [x, cy - s * 0.55 * k],
      [x + s * 0.55 * k, cy + s * 0.4 * k],
      [x - s * 0.55 * k, cy + s * 0.4 * k],
    ];
    face = poly(tri(1), rgb([210, 20, 30])) + poly(tri(0.72), rgb(rng.chance(0.5) ? [250, 250, 250] : [250, 210, 40]));
  } else {
    const d = s * 0.6;
    face =
      poly(
        [
          [x, cy - d],
          [x + d, cy],
          [x, cy + d],
          [x - d, cy],
        ],
        rgb([20, 20, 20]),
      ) +
      poly(
        [
          [x, cy - d * 0.9],
          [x + d * 0.9, cy],
          [x, cy + d * 0.9],
          [x - d * 0.9, cy],
        ],
        rgb(jitter(rng, ORANGE, 12)),
      );
  }
  const k = s * 0.16;
  const glyph =
    circle(x - k * 0.3, cy - k * 0.9, k * 0.28, "black") +
    line(x - k * 0.3, cy - k * 0.6, x + k * 0.1, cy + k * 0.5, "black", k * 0.35) +
    line(x + k * 0.1, cy + k * 0.5, x - k * 0.6, cy + k * 1.4, "black", k * 0.25) +
    line(x + k * 0.1, cy + k * 0.5, x + k * 0.6, cy + k * 1.4, "black", k * 0.25) +
    line(x - k * 0.1, cy - k * 0.1, x + k * 1.1, cy + k * 0.9, "black", k * 0.18) +
    poly(
      [
        [x + k * 1.3, cy + k * 1.4],
        [x + k * 0.5, cy + k * 1.4],
        [x + k * 0.9, cy + k * 0.9],
      ],
      "black",
    );
  return { body: body + face + glyph, light: face + glyph };
}

interface PersonStyle {
  torso: Rgb;
  legs: Rgb;
  stripes: boolean;
  helmet: Rgb | null;
}

function person(rng: Prng, x: number, y: number, p: number, style: PersonStyle): Drawn {
  const h = rng.uniform(1.6, 1.9) * p;
  const skin = rng.pick(SKIN);
  const w = 0.45 * p;
  const legTop = y - h * 0.48;
  const torsoTop = y - h * 0.82;
  const headR = h * 0.065;
  const step = rng.uniform(-0.08, 0.08) * p;
  let body =
    line(x - w * 0.22, legTop, x - w * 0.22 + step, y, rgb(style.legs), w * 0.3) +
    line(x + w * 0.22, legTop, x + w * 0.22 - step, y, rgb(style.legs), w * 0.3) +
    line(x - w / 2, torsoTop + h * 0.03, x - w * 0.7, legTop + h * 0.02, rgb(style.torso), w * 0.22) +
    line(x + w / 2, torsoTop + h * 0.03, x + w * 0.7, legTop + h * 0.02, rgb(style.torso), w * 0.22) +
    rect(x - w / 2, torsoTop, w, legTop - torsoTop, rgb(style.torso)) +
    circle(x, torsoTop - headR * 1.05, headR, rgb(skin));
  let light = "";
  if (style.stripes) {
    const s1 = torsoTop + (legTop - torsoTop) * 0.45;
    const s2 = torsoTop + (legTop - torsoTop) * 0.75;
    const silver = rgb([225, 228, 232]);
    const stripes =
      rect(x - w / 2, s1, w, h * 0.035, silver) +
      rect(x - w / 2, s2, w, h * 0.035, silver) +
      rect(x - w * 0.32, y - h * 0.2, w * 0.64, h * 0.025, silver);
    body += stripes;
    light += stripes;
  }
  if (style.helmet) {
    const c = rgb(style.helmet);
    const hy = torsoTop - headR * 1.3;
    body += ellipse(x, hy, headR * 1.25, headR * 0.85, c) + rect(x - headR * 1.5, hy, headR * 3, headR * 0.3, c);
  } else {
    body += ellipse(x, torsoTop - headR * 1.6, headR, headR * 0.55, rgb(rng.pick(HAIR)));
  }
  return { body, light };
}

const HAIR: Rgb[] = [
  [30, 25, 20],
  [90, 60, 30],
  [200, 170, 110],
  [60, 60, 60],
];

/** A road worker: high-visibility vest with reflective stripes, usually a helmet. */
export function worker(rng: Prng, x: number, y: number, p: number): Drawn {
  const vest = rng.chance(0.6) ? HIVIS_YELLOW : HIVIS_ORANGE;
  return person(rng, x, y, p, {
    torso: jitter(rng, vest, 10),
    legs: rng.chance(0.5) ? jitter(rng, [40, 50, 80], 10) : jitter(rng, vest, 10),
    stripes: true,
    helmet: rng.chance(0.85)
      ? rng.pick<Rgb>([
          [250, 250, 250],
          [250, 210, 0],
          [255, 120, 0],
        ])
      : null,
  });
}

const CLOTHES: Rgb[] = [
  [40, 40, 45],
  [30, 60, 120],
  [150, 20, 30],
  [200, 200, 200],
  [60, 110, 60],
  [120, 90, 60],
  [90, 50, 120],
];

/** A pedestrian; `orange` gives an orange or yellow jacket with no reflective stripes and no helmet (hard negative). */
export function pedestrian(rng: Prng, x: number, y: number, p: number, orange = false): Drawn {
  return person(rng, x, y, p, {
    torso: orange
      ? jitter(rng, rng.pick<Rgb>([ORANGE, [250, 150, 0], [240, 200, 30]]), 12)
      : jitter(rng, rng.pick(CLOTHES)),
    legs: jitter(rng, rng.pick(CLOTHES)),
    stripes: false,
    helmet: null,
  });
}

/** Construction machinery seen from the road: an excavator or a road roller, yellow, with an amber beacon. */
export function machine(rng: Prng, x: number, y: number, p: number): Drawn {
  const yellow = rgb(jitter(rng, MACHINE_YELLOW, 14));
  const dark = rgb([35, 35, 38]);
  const glass = rgb([70, 90, 110]);
  const dir = rng.chance(0.5) ? 1 : -1;
  let body: string;
  let top: number;
  if (rng.chance(0.6)) {
    const L = rng.uniform(3.2, 4.2) * p;
    body =
      rect(x - L / 2, y - 0.8 * p, L, 0.8 * p, dark, `rx="${0.35 * p}"`) +
      rect(x - L * 0.42, y - 1.9 * p, L * 0.84, 1.1 * p, yellow) +
      rect(x - L * 0.35 * dir - (dir > 0 ? 0 : 1.3 * p), y - 3.0 * p, 1.3 * p, 1.15 * p, yellow) +
      rect(x - L * 0.35 * dir - (dir > 0 ? 0 : 1.3 * p) + 0.15 * p, y - 2.85 * p, 1.0 * p, 0.7 * p, glass);
    const bx = x + L * 0.3 * dir;
    const ex = x + L * 0.9 * dir;
    body +=
      line(bx, y - 1.8 * p, bx + 0.8 * p * dir, y - 3.6 * p, yellow, 0.35 * p) +
      line(bx + 0.8 * p * dir, y - 3.6 * p, ex, y - 1.2 * p, yellow, 0.3 * p) +
      poly(
        [
          [ex - 0.4 * p, y - 1.3 * p],
          [ex + 0.4 * p, y - 1.3 * p],
          [ex + 0.2 * p * dir, y - 0.5 * p],
        ],
        dark,
      );
    top = y - 3.0 * p;
  } else {
    const L = rng.uniform(2.4, 3.2) * p;
    body =
      rect(x - L / 2, y - 1.5 * p, L, 1.0 * p, yellow) +
      rect(x - L * 0.2, y - 2.6 * p, L * 0.45, 1.1 * p, yellow) +
      rect(x - L * 0.15, y - 2.45 * p, L * 0.35, 0.7 * p, glass) +
      rect(x - L / 2 - 0.2 * p, y - 1.2 * p, L + 0.4 * p, 1.2 * p, dark, `rx="${0.5 * p}"`) +
      rect(x - L / 2, y - 1.0 * p, L, 0.25 * p, yellow);
    top = y - 2.6 * p;
  }
  const beacon = circle(x, top - 0.12 * p, 0.14 * p, rgb([255, 150, 0]));
  return { body: body + beacon, light: beacon };
}

export function car(rng: Prng, x: number, y: number, p: number, color: Rgb): Drawn {
  const w = rng.uniform(1.7, 1.9) * p;
  const h = rng.uniform(1.3, 1.55) * p;
  const c = rgb(color);
  const body =
    rect(x - w / 2 + 0.1 * p, y - 0.35 * p, 0.35 * p, 0.35 * p, rgb([20, 20, 20])) +
    rect(x + w / 2 - 0.45 * p, y - 0.35 * p, 0.35 * p, 0.35 * p, rgb([20, 20, 20])) +
    rect(x - w / 2, y - h * 0.62, w, h * 0.42, c, `rx="${0.12 * p}"`) +
    poly(
      [
        [x - w * 0.42, y - h * 0.62],
        [x + w * 0.42, y - h * 0.62],
        [x + w * 0.34, y - h],
        [x - w * 0.34, y - h],
      ],
      c,
    ) +
    poly(
      [
        [x - w * 0.36, y - h * 0.64],
        [x + w * 0.36, y - h * 0.64],
        [x + w * 0.3, y - h * 0.95],
        [x - w * 0.3, y - h * 0.95],
      ],
      rgb([60, 70, 85]),
    ) +
    rect(x - w * 0.25, y - h * 0.42, w * 0.5, h * 0.1, rgb([230, 230, 230]));
  const lights =
    rect(x - w / 2 + 0.05 * p, y - h * 0.55, 0.3 * p, 0.12 * p, rgb([230, 20, 20])) +
    rect(x + w / 2 - 0.35 * p, y - h * 0.55, 0.3 * p, 0.12 * p, rgb([230, 20, 20]));
  return { body: body + lights, light: lights };
}

export function truck(rng: Prng, x: number, y: number, p: number, color: Rgb): Drawn {
  const w = rng.uniform(2.3, 2.55) * p;
  const h = rng.uniform(3.0, 3.8) * p;
  const body =
    rect(x - w / 2 + 0.1 * p, y - 0.5 * p, 0.5 * p, 0.5 * p, rgb([20, 20, 20])) +
    rect(x + w / 2 - 0.6 * p, y - 0.5 * p, 0.5 * p, 0.5 * p, rgb([20, 20, 20])) +
    rect(x - w / 2, y - h, w, h - 0.45 * p, rgb(color)) +
    line(x, y - h, x, y - 0.45 * p, rgb(jitter(rng, color, 0, 0.75)), 0.04 * p) +
    rect(x - w / 2, y - 0.55 * p, w, 0.12 * p, rgb([50, 50, 50]));
  const lights =
    rect(x - w / 2 + 0.05 * p, y - 0.8 * p, 0.25 * p, 0.15 * p, rgb([230, 20, 20])) +
    rect(x + w / 2 - 0.3 * p, y - 0.8 * p, 0.25 * p, 0.15 * p, rgb([230, 20, 20]));
  return { body: body + lights, light: lights };
}

export function streetLight(rng: Prng, x: number, y: number, p: number, side: number): Drawn {
  const h = rng.uniform(6, 8) * p;
  const grey = rgb([95, 98, 105]);
  const lampX = x - side * 1.4 * p;
  const lamp = ellipse(lampX, y - h + 0.1 * p, 0.35 * p, 0.12 * p, rgb([255, 240, 200]));
  return {
    body: line(x, y, x, y - h, grey, 0.14 * p) + line(x, y - h, lampX, y - h, grey, 0.1 * p) + lamp,
    light: lamp,
  };
}

export function tree(rng: Prng, x: number, y: number, p: number): Drawn {
  const h = rng.uniform(4, 7) * p;
  const green = rgb(jitter(rng, [50, 110, 45], 20));
  return {
    body:
      rect(x - 0.12 * p, y - h * 0.5, 0.24 * p, h * 0.5, rgb([90, 65, 40])) +
      ellipse(x, y - h * 0.7, h * 0.28, h * 0.32, green),
    light: "",
  };
}

/** Ordinary traffic signs (no entry, stop, speed limit, parking): sign-shaped but not roadwork. */
export function trafficSign(rng: Prng, x: number, y: number, p: number): Drawn {
  const s = rng.uniform(0.6, 0.8) * p;
  const postH = rng.uniform(1.6, 2.2) * p;
  const cy = y - postH - s * 0.5;
  const post = rect(x - 0.03 * p, y - postH, 0.06 * p, postH, rgb([110, 110, 115]));
  const kind = rng.int(0, 3);
  let face: string;
  if (kind === 0)
    face = circle(x, cy, s * 0.5, rgb([200, 20, 30])) + rect(x - s * 0.35, cy - s * 0.08, s * 0.7, s * 0.16, "white");
  else if (kind === 1) {
    const pts: Array<[number, number]> = [];
    for (let i = 0; i < 8; i++) {
      const a = Math.PI / 8 + (i * Math.PI) / 4;
      pts.push([x + Math.cos(a) * s * 0.5, cy + Math.sin(a) * s * 0.5]);
    }
    face = poly(pts, rgb([200, 20, 30]));
  } else if (kind === 2)
    face =
      circle(x, cy, s * 0.5, rgb([200, 20, 30])) +
      circle(x, cy, s * 0.38, "white") +
      rect(x - s * 0.15, cy - s * 0.15, s * 0.3, s * 0.3, "black", 'opacity="0.7"');
  else
    face =
      rect(x - s * 0.45, cy - s * 0.45, s * 0.9, s * 0.9, rgb([20, 70, 170])) +
      rect(x - s * 0.1, cy - s * 0.3, s * 0.2, s * 0.6, "white");
  return { body: post + face, light: face };
}

/** Orange things that are not roadwork: bins, café umbrellas, kiosks, delivery boxes. */
export function orangeObject(rng: Prng, x: number, y: number, p: number): Drawn {
  const c = rgb(jitter(rng, rng.pick<Rgb>([ORANGE, [250, 140, 0], [230, 90, 20]]), 14));
  const kind = rng.int(0, 3);
  let body: string;
  if (kind === 0)
    body =
      rect(x - 0.35 * p, y - 1.0 * p, 0.7 * p, 1.0 * p, c, `rx="${0.08 * p}"`) +
      rect(x - 0.38 * p, y - 1.05 * p, 0.76 * p, 0.1 * p, rgb([40, 40, 40]));
  else if (kind === 1)
    body =
      line(x, y, x, y - 2.2 * p, rgb([200, 200, 200]), 0.06 * p) +
      poly(
        [
          [x - 1.3 * p, y - 2.0 * p],
          [x + 1.3 * p, y - 2.0 * p],
          [x, y - 2.7 * p],
        ],
        c,
      );
  else if (kind === 2)
    body =
      rect(x - 0.9 * p, y - 2.3 * p, 1.8 * p, 2.3 * p, c) +
      rect(x - 0.6 * p, y - 1.9 * p, 1.2 * p, 0.7 * p, rgb([60, 70, 85]));
  else body = circle(x, y - 0.3 * p, 0.3 * p, c);
  return { body, light: "" };
}
