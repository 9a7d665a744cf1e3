// Procedural street scenes seen from a dashcam: a seeded plan (label, category, conditions) and its rendering.
// Geometry is a pinhole camera 1.5 m above a flat road; objects are drawn far to near so nearer ones occlude.
import sharp from "sharp";
import { Prng } from "../prng.ts";
import {
  barrier,
  car,
  cone,
  type Drawn,
  machine,
  orangeObject,
  pedestrian,
  roadworkSign,
  streetLight,
  trafficSign,
  tree,
  truck,
  worker,
} from "./objects.ts";
import { jitter, line, mix, poly, type Rgb, rect, rgb } from "./svg.ts";

export const POSITIVE_CATEGORIES = [
  "positive/cones",
  "positive/barrier",
  "positive/sign",
  "positive/workers",
  "positive/machinery",
] as const;
export const NEGATIVE_CATEGORIES = [
  "negative/plain",
  "hard-negative/orange-vehicle",
  "hard-negative/orange-object",
  "hard-negative/parked-truck",
  "hard-negative/orange-pedestrian",
  "hard-negative/traffic-signs",
] as const;
export type SceneCategory = (typeof POSITIVE_CATEGORIES)[number] | (typeof NEGATIVE_CATEGORIES)[number];
export const SCENE_CATEGORIES: readonly SceneCategory[] = [...POSITIVE_CATEGORIES, ...NEGATIVE_CATEGORIES];

export const TIMES_OF_DAY = ["day", "dusk", "night"] as const;
export const WEATHERS = ["clear", "fog", "rain"] as const;
export interface SceneConditions {
  time: (typeof TIMES_OF_DAY)[number];
  weather: (typeof WEATHERS)[number];
}

export interface ScenePlan {
  seed: number;
  /** 1 = roadwork present (the subnet's convention). */
  label: 0 | 1;
  category: SceneCategory;
  conditions: SceneConditions;
  width: number;
  height: number;
}

export interface PlanOptions {
  width?: number;
  height?: number;
  /** Share of positives (default 0.5, as the validators draw labels). */
  positiveRate?: number;
  /** Share of negatives that are hard negatives (default 0.5). */
  hardNegativeRate?: number;
}

/** Draws label, category and conditions from the seed alone. */
export function planScene(seed: number, options: PlanOptions = {}): ScenePlan {
  const rng = new Prng(`plan:${seed}`);
  const label: 0 | 1 = rng.chance(options.positiveRate ?? 0.5) ? 1 : 0;
  let category: SceneCategory;
  if (label === 1) category = rng.pick(POSITIVE_CATEGORIES);
  else if (rng.chance(options.hardNegativeRate ?? 0.5)) category = rng.pick(NEGATIVE_CATEGORIES.slice(1));
  else category = "negative/plain";
  const t = rng.next();
  const w = rng.next();
  return {
    seed,
    label,
    category,
    conditions: {
      time: t < 0.6 ? "day" : t < 0.8 ? "dusk" : "night",
      weather: w < 0.6 ? "clear" : w < 0.8 ? "fog" : "rain",
    },
    width: options.width ?? 320,
    height: options.height ?? 240,
  };
}

interface Camera {
  width: number;
  height: number;
  horizon: number;
  vanishX: number;
  /** Focal length in pixels. */
  focal: number;
  height_m: number;
}

interface Placed {
  depth: number;
  drawn: Drawn;
}

/** Road layout in metres, lateral X (right positive), the camera in the right lane. */
interface Road {
  left: number;
  right: number;
  walk: number;
}

function project(cam: Camera, X: number, Y: number, d: number): [number, number] {
  return [cam.vanishX + (X * cam.focal) / d, cam.horizon + ((cam.height_m - Y) * cam.focal) / d];
}

const SKY: Record<SceneConditions["time"], [Rgb, Rgb]> = {
  day: [
    [90, 150, 225],
    [195, 220, 245],
  ],
  dusk: [
    [70, 60, 120],
    [250, 150, 90],
  ],
  night: [
    [5, 8, 25],
    [30, 35, 60],
  ],
};

const FACADES: Rgb[] = [
  [150, 150, 155],
  [200, 190, 170],
  [160, 90, 70],
  [225, 225, 220],
  [110, 120, 140],
  [180, 160, 130],
  [90, 90, 95],
];

/** The scene as an SVG document (exposed for debugging and tests). */
export function composeSceneSvg(plan: ScenePlan): string {
  const rng = new Prng(`scene:${plan.seed}`);
  const { width: W, height: H } = plan;
  const horizon = H * rng.uniform(0.28, 0.4);
  const cam: Camera = {
    width: W,
    height: H,
    horizon,
    vanishX: W / 2 + rng.uniform(-0.08, 0.08) * W,
    focal: ((H - horizon) * 4) / 1.5,
    height_m: 1.5,
  };
  const road: Road = { left: -rng.uniform(4.8, 6.5), right: rng.uniform(2.2, 3.2), walk: rng.uniform(2.5, 4) };
  const night = plan.conditions.time === "night";
  const parts: string[] = [];
  const defs = [
    `<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${rgb(jitter(rng, SKY[plan.conditions.time][0], 10))}"/><stop offset="1" stop-color="${rgb(jitter(rng, SKY[plan.conditions.time][1], 10))}"/></linearGradient>`,
    `<radialGradient id="glow"><stop offset="0" stop-color="rgb(255,230,170)" stop-opacity="0.55"/><stop offset="1" stop-color="rgb(255,230,170)" stop-opacity="0"/></radialGradient>`,
    `<linearGradient id="fog" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="rgb(205,208,212)" stop-opacity="0.85"/><stop offset="${(horizon / H).toFixed(3)}" stop-color="rgb(205,208,212)" stop-opacity="${rng.uniform(0.55, 0.75).toFixed(2)}"/><stop offset="1" stop-color="rgb(205,208,212)" stop-opacity="${rng.uniform(0.05, 0.2).toFixed(2)}"/></linearGradient>`,
  ];
  parts.push(rect(0, 0, W, horizon + 1, "url(#sky)"));
  // Skyline far away.
  for (let x = 0; x < W; x += rng.uniform(8, 24)) {
    const h = rng.uniform(4, 28);
    parts.push(
      rect(x, horizon - h, rng.uniform(10, 26), h + 1, rgb(jitter(rng, [120, 125, 135], 15, night ? 0.4 : 1))),
    );
  }
  // Ground: sidewalk colour everywhere below the horizon, then the road.
  const walkColor = jitter(rng, [165, 160, 150], 12);
  const roadColor = jitter(rng, [88, 88, 92], 10);
  parts.push(rect(0, horizon, W, H - horizon, rgb(walkColor)));
  const near = 2;
  const far = 400;
  const roadPoly = [
    project(cam, road.left, 0, near),
    project(cam, road.right, 0, near),
    project(cam, road.right, 0, far),
    project(cam, road.left, 0, far),
  ];
  parts.push(poly(roadPoly, rgb(roadColor)));
  // Kerb strips.
  for (const X of [road.left, road.right]) {
    parts.push(
      poly(
        [
          project(cam, X - 0.15, 0, near),
          project(cam, X + 0.15, 0, near),
          project(cam, X + 0.15, 0, far),
          project(cam, X - 0.15, 0, far),
        ],
        rgb([120, 118, 115]),
      ),
    );
  }
  // Lane marks: dashed centre line at X = 0 and solid edge lines.
  const markColor = rng.chance(0.85) ? rgb([235, 235, 230]) : rgb([240, 200, 40]);
  const dash = rng.uniform(2.5, 4);
  const gap = rng.uniform(4, 8);
  const phase = rng.uniform(0, dash + gap);
  for (let d = near + phase; d < 120; d += dash + gap) {
    parts.push(
      poly(
        [
          project(cam, -0.08, 0, d),
          project(cam, 0.08, 0, d),
          project(cam, 0.08, 0, d + dash),
          project(cam, -0.08, 0, d + dash),
        ],
        markColor,
      ),
    );
  }
  for (const X of [road.left + 0.35, road.right - 0.35]) {
    parts.push(
      poly(
        [
          project(cam, X - 0.07, 0, near),
          project(cam, X + 0.07, 0, near),
          project(cam, X + 0.07, 0, far),
          project(cam, X - 0.07, 0, far),
        ],
        markColor,
      ),
    );
  }
  // Building facades on both sides, far segments first.
  for (const side of [-1, 1] as const) {
    const X = side < 0 ? road.left - road.walk - rng.uniform(0, 1.5) : road.right + road.walk + rng.uniform(0, 1.5);
    const segments: Array<[number, number, number, Rgb]> = [];
    for (let d = 3; d < 140; ) {
      const len = rng.uniform(8, 24);
      segments.push([d, d + len, rng.uniform(6, 24), jitter(rng, rng.pick(FACADES), 15, night ? 0.45 : 1)]);
      d += len + (rng.chance(0.2) ? rng.uniform(3, 10) : 0);
    }
    for (const [d0, d1, h, color] of segments.reverse()) {
      parts.push(
        poly(
          [project(cam, X, 0, d0), project(cam, X, 0, d1), project(cam, X, h, d1), project(cam, X, h, d0)],
          rgb(color),
        ),
      );
      const winColor = night && rng.chance(0.5) ? rgb([250, 220, 140]) : rgb(mix(color, [40, 50, 70], 0.6));
      for (let y = 2.5; y < h - 1; y += 3) {
        for (let d = d0 + 1; d < d1 - 1.5; d += 3) {
          parts.push(
            poly(
              [
                project(cam, X, y, d),
                project(cam, X, y, d + 1.2),
                project(cam, X, y + 1.4, d + 1.2),
                project(cam, X, y + 1.4, d),
              ],
              winColor,
            ),
          );
        }
      }
    }
  }

  const placed: Placed[] = [];
  const at = (X: number, d: number, draw: (x: number, y: number, p: number) => Drawn): void => {
    if (d < 2.5) return;
    const [x, y] = project(cam, X, 0, d);
    placed.push({ depth: d, drawn: draw(x, y, cam.focal / d) });
  };
  const walkX = (side: number): number =>
    side < 0 ? road.left - rng.uniform(0.6, road.walk - 0.5) : road.right + rng.uniform(0.6, road.walk - 0.5);

  // Street furniture and ordinary traffic, present in every scene.
  const poleSide = rng.chance(0.5) ? -1 : 1;
  for (let d = rng.uniform(6, 20); d < 90; d += rng.uniform(18, 30)) {
    at(poleSide < 0 ? road.left - 0.6 : road.right + 0.6, d, (x, y, p) => streetLight(rng, x, y, p, poleSide));
  }
  for (let i = rng.int(0, 4); i > 0; i--) {
    const side = rng.chance(0.5) ? -1 : 1;
    at(walkX(side), rng.uniform(6, 70), (x, y, p) => tree(rng, x, y, p));
  }
  const carColors: Rgb[] = [
    [200, 200, 205],
    [30, 30, 35],
    [140, 20, 25],
    [30, 60, 130],
    [90, 95, 100],
    [240, 240, 240],
  ];
  for (let i = rng.int(0, 3); i > 0; i--) {
    at(rng.pick([-1.75, 1.2, road.left + 1.75]), rng.uniform(14, 70), (x, y, p) =>
      car(rng, x, y, p, jitter(rng, rng.pick(carColors), 10)),
    );
  }
  for (let i = rng.int(0, 2); i > 0; i--) {
    const side = rng.chance(0.5) ? -1 : 1;
    at(walkX(side), rng.uniform(6, 40), (x, y, p) => pedestrian(rng, x, y, p));
  }

  // What the category is about.
  const laneEdge = rng.chance(0.5) ? 0.3 : road.right - 0.6;
  const addCones = (n: number, d0: number, edge = laneEdge): void => {
    const taper = edge === laneEdge && rng.chance(0.4);
    const step = rng.uniform(1.5, 3);
    for (let i = 0; i < n; i++) {
      const X = taper
        ? laneEdge + (i / Math.max(1, n - 1)) * (road.right - 0.8 - laneEdge) * (laneEdge < 1 ? 1 : -1)
        : edge + rng.uniform(-0.15, 0.15);
      at(X, d0 + i * step, (x, y, p) => cone(rng, x, y, p));
    }
  };
  const addWorkers = (n: number): void => {
    for (let i = 0; i < n; i++)
      at(rng.uniform(-1.5, road.right - 0.5), rng.uniform(5, 16), (x, y, p) => worker(rng, x, y, p));
  };
  switch (plan.category) {
    case "positive/cones":
      addCones(rng.int(7, 12), rng.uniform(3, 6));
      break;
    case "positive/barrier":
      for (let i = rng.int(1, 3); i > 0; i--)
        at(rng.uniform(-1, road.right - 1), rng.uniform(5, 18), (x, y, p) => barrier(rng, x, y, p));
      break;
    case "positive/sign":
      at(rng.chance(0.6) ? road.right + 0.5 : rng.uniform(0.5, road.right - 0.5), rng.uniform(5, 11), (x, y, p) =>
        roadworkSign(rng, x, y, p),
      );
      if (rng.chance(0.4)) at(road.left - 0.5, rng.uniform(6, 14), (x, y, p) => roadworkSign(rng, x, y, p));
      break;
    case "positive/workers":
      addWorkers(rng.int(2, 4));
      break;
    case "positive/machinery":
      at(rng.uniform(-2, road.right + 1), rng.uniform(7, 15), (x, y, p) => machine(rng, x, y, p));
      break;
    case "hard-negative/orange-vehicle":
      for (let i = rng.int(1, 2); i > 0; i--) {
        const color = jitter(
          rng,
          rng.pick<Rgb>([
            [255, 110, 10],
            [250, 150, 0],
            [240, 190, 20],
          ]),
          10,
        );
        at(rng.pick([1.2, -1.75, road.right + 0.9]), rng.uniform(6, 22), (x, y, p) =>
          rng.chance(0.75) ? car(rng, x, y, p, color) : truck(rng, x, y, p, color),
        );
      }
      break;
    case "hard-negative/orange-object":
      for (let i = rng.int(1, 3); i > 0; i--)
        at(walkX(rng.chance(0.5) ? -1 : 1), rng.uniform(4, 16), (x, y, p) => orangeObject(rng, x, y, p));
      break;
    case "hard-negative/parked-truck":
      for (let i = rng.int(1, 2); i > 0; i--) {
        const color = jitter(
          rng,
          rng.pick<Rgb>([
            [240, 240, 240],
            [244, 190, 20],
            [200, 60, 20],
            [60, 90, 150],
          ]),
          10,
        );
        at(rng.chance(0.6) ? road.right + 0.8 : road.left + 1.2, rng.uniform(7, 22), (x, y, p) =>
          truck(rng, x, y, p, color),
        );
      }
      break;
    case "hard-negative/orange-pedestrian":
      for (let i = rng.int(1, 3); i > 0; i--) {
        const onRoad = rng.chance(0.35);
        at(
          onRoad ? rng.uniform(-1.5, road.right - 0.5) : walkX(rng.chance(0.5) ? -1 : 1),
          rng.uniform(5, 16),
          (x, y, p) => pedestrian(rng, x, y, p, true),
        );
      }
      break;
    case "hard-negative/traffic-signs":
      for (let i = rng.int(1, 3); i > 0; i--)
        at(rng.chance(0.6) ? road.right + 0.5 : road.left - 0.5, rng.uniform(5, 15), (x, y, p) =>
          trafficSign(rng, x, y, p),
        );
      break;
    case "negative/plain":
      break;
  }
  // Roadwork sites rarely come alone: positives often carry a second element.
  if (plan.label === 1) {
    if (plan.category !== "positive/cones" && rng.chance(0.85)) addCones(rng.int(5, 10), rng.uniform(3, 7));
    if (rng.chance(0.3)) addCones(rng.int(3, 6), rng.uniform(3, 8), rng.uniform(road.left + 0.6, -0.5));
    if (plan.category !== "positive/workers" && rng.chance(0.25)) addWorkers(rng.int(1, 2));
    if (plan.category !== "positive/sign" && rng.chance(0.25))
      at(road.right + 0.5, rng.uniform(6, 12), (x, y, p) => roadworkSign(rng, x, y, p));
  }

  placed.sort((a, b) => b.depth - a.depth);
  for (const p of placed) parts.push(p.drawn.body);

  // Light and weather.
  if (plan.conditions.time === "dusk")
    parts.push(rect(0, 0, W, H, rgb([255, 140, 60]), `opacity="${rng.uniform(0.08, 0.18).toFixed(2)}"`));
  if (night) {
    parts.push(rect(0, 0, W, H, rgb([4, 8, 24]), `opacity="${rng.uniform(0.62, 0.75).toFixed(2)}"`));
    // Headlights light the road ahead; lamps and reflectors stay bright.
    parts.push(`<ellipse cx="${W / 2}" cy="${H}" rx="${W * 0.55}" ry="${(H - horizon) * 0.7}" fill="url(#glow)"/>`);
    for (const p of placed) if (p.drawn.light) parts.push(`<g opacity="0.8">${p.drawn.light}</g>`);
  }
  if (plan.conditions.weather === "fog") parts.push(rect(0, 0, W, H, "url(#fog)"));
  if (plan.conditions.weather === "rain") {
    parts.push(rect(0, 0, W, H, rgb([70, 75, 85]), `opacity="${rng.uniform(0.15, 0.3).toFixed(2)}"`));
    const slant = rng.uniform(-0.3, 0.3);
    for (let i = rng.int(120, 260); i > 0; i--) {
      const x = rng.uniform(0, W);
      const y = rng.uniform(0, H);
      const len = rng.uniform(6, 16);
      parts.push(
        line(
          x,
          y,
          x + slant * len,
          y + len,
          rgb([210, 215, 225]),
          rng.uniform(0.5, 1.1),
          `opacity="${rng.uniform(0.25, 0.6).toFixed(2)}"`,
        ),
      );
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}"><defs>${defs.join("")}</defs>${parts.join("")}</svg>`;
}

export interface RenderedScene {
  plan: ScenePlan;
  /** JPEG bytes. */
  jpeg: Buffer;
}

/** Rasterizes the scene, adds seeded sensor noise, and encodes it as a baseline JPEG. */
export async function renderScene(plan: ScenePlan, quality = 90): Promise<RenderedScene> {
  const svg = composeSceneSvg(plan);
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const rng = new Prng(`noise:${plan.seed}`);
  const sigma = plan.conditions.time === "night" ? rng.uniform(3, 6) : rng.uniform(1, 3.5);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]! + sigma * rng.gaussian();
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  const jpeg = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
    .jpeg({ quality, chromaSubsampling: "4:2:0" })
    .toBuffer();
  return { plan, jpeg };
}
