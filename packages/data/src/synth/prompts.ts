// Prompts in the validators' style (spec §4.2, §4.7): "Photorealistic dashcam footage …" built from a caption of a
// real frame, with roadwork objects added for label 1 and kept out for label 0. Objects a label-0 image must not
// show go into the negative prompt, never as "no cones" in the prompt (diffusion models draw what a prompt names).
import { z } from "zod";
import { Prng } from "../prng.ts";
import { type AspectRatio, type GenerationRequest, GenerationRequestSchema, MAX_SEED } from "./generator.ts";

export const ROADWORK_OBJECTS = ["cones", "barriers", "workers", "signs", "machinery"] as const;
export type RoadworkObject = (typeof ROADWORK_OBJECTS)[number];

const OBJECT_PHRASES: Record<RoadworkObject, string[]> = {
  cones: ["a row of orange traffic cones narrowing the lane", "orange and white traffic cones along the lane edge"],
  barriers: [
    "red and white construction barriers blocking part of the road",
    "concrete jersey barriers with reflectors",
  ],
  workers: ["road workers in high-visibility orange vests and hard hats", "a construction crew working on the asphalt"],
  signs: ["a temporary 'Road Work Ahead' sign", "an orange diamond roadwork warning sign"],
  machinery: ["an excavator parked on a torn-up section of the road", "a road roller and a small asphalt paver"],
};

/** The validators' negative prompt style, including the "no oversaturation" they added in February 2026 (§4.7). */
export const BASE_NEGATIVE_PROMPT =
  "blurry, low quality, distorted, deformed, cartoon, illustration, painting, drawing, 3d render, CGI, text, watermark, logo, frame, split screen, no oversaturation, oversaturated colors, overexposed, underexposed";

/** Added to the negative prompt of label-0 requests: what would make the image roadwork. */
export const ROADWORK_NEGATIVE_TERMS =
  "traffic cones, construction barriers, road workers, high-visibility vests, roadwork signs, excavators, construction site, road closure";

/** A description of a real frame: from dataset metadata (NATIX `scene_description`) or a vision teacher's caption. */
export interface SceneCaption {
  text: string;
  source: "metadata" | "teacher" | "built-in";
  /** The real record it describes, when there is one. */
  recordId?: string;
}

/** A cluster of hard cases the miner got wrong or was unsure about, from hard-case mining. */
export interface HardCaseCluster {
  id: string;
  /** What the cluster's frames show, e.g. "orange delivery van parked at the curb at dusk". */
  description: string;
  /** The label the cluster's frames truly have, when known; otherwise both labels are generated. */
  label?: 0 | 1;
  /** Relative share of the batch (default 1). */
  weight?: number;
}

export const HardCaseClustersSchema = z.array(
  z.object({
    id: z.string().min(1),
    description: z.string().min(1).max(500),
    label: z.union([z.literal(0), z.literal(1)]).optional(),
    weight: z.number().positive().optional(),
  }),
);

/** Street scenes for when no real captions are at hand (local mode, the weekly batch before any data exists). */
export const BUILT_IN_CAPTIONS: SceneCaption[] = [
  "a two-lane suburban street with parked cars and houses",
  "a multi-lane city avenue with shops and traffic lights",
  "a rural highway with grass verges and a guard rail",
  "a narrow old-town street with cobblestones",
  "a motorway on-ramp with overhead signs",
  "an intersection with a pedestrian crossing and cyclists",
].map((text) => ({ text, source: "built-in" as const }));

const CONDITIONS = [
  "on a clear sunny day",
  "under an overcast sky",
  "at dusk with headlights on",
  "at night under street lights",
  "in light rain with wet asphalt",
];

/** Turns NATIX's `scene_description` (or a teacher's caption) into a clause: no trailing period, no "The image shows". */
export function normalizeCaption(text: string): string {
  return text
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^(the|this) (image|photo|picture|frame|scene) (shows|depicts|features|captures)\s+/i, "")
    .replace(/[.\s]+$/, "")
    .slice(0, 600);
}

/** Strips roadwork mentions from a caption of a roadwork frame so it can seed a label-0 prompt. */
export function withoutRoadwork(caption: string): string {
  return caption
    .split(/[,;]|\bwith\b|\band\b/)
    .map((part) => part.trim())
    .filter((part) => part && !/cone|barrier|roadwork|road work|construction|worker|excavat|detour|closure/i.test(part))
    .join(", ");
}

export interface PromptParts {
  caption: string;
  label: 0 | 1;
  objects?: RoadworkObject[];
  condition?: string;
  hardCase?: string;
}

export function composePrompt(parts: PromptParts): { prompt: string; negativePrompt: string } {
  const scene = parts.label === 1 ? parts.caption : withoutRoadwork(parts.caption) || "an ordinary street";
  const clauses = [`Photorealistic dashcam footage of ${scene}`];
  if (parts.hardCase) clauses.push(parts.hardCase);
  if (parts.label === 1) {
    const objects = parts.objects?.length ? parts.objects : (["cones"] as RoadworkObject[]);
    clauses.push(`with ${objects.map((o) => OBJECT_PHRASES[o][0]).join(", and ")}`);
  }
  if (parts.condition) clauses.push(parts.condition);
  const prompt = `${clauses.join(", ")}. Seen from a car's windshield, wide-angle, natural colors, realistic lighting.`;
  const negativePrompt =
    parts.label === 0 ? `${BASE_NEGATIVE_PROMPT}, ${ROADWORK_NEGATIVE_TERMS}` : BASE_NEGATIVE_PROMPT;
  return { prompt, negativePrompt };
}

/** A real frame an image-to-image request starts from. */
export interface SourceFrame {
  id: string;
  group: string;
  label: 0 | 1;
  caption?: SceneCaption;
}

export interface PlanOptions {
  batchId: string;
  count: number;
  /** Fixed label for every request; otherwise labels alternate 1, 0 (the validators draw 50/50). */
  label?: 0 | 1;
  captions?: SceneCaption[];
  /** Image-to-image from these frames (round robin); text-to-image when absent. */
  sources?: SourceFrame[];
  /** The validators' img2img strength (spec §4.2: SDXL img2img); default 0.7. */
  strength?: number;
  hardCases?: HardCaseCluster[];
  aspectRatio?: AspectRatio;
  /** Seeds derive from this (default: the batch id). */
  seed?: string;
}

/**
 * Plans a batch: one request per image with a deterministic request id (`<batchId>-<index>`), so re-planning the same
 * batch (a redelivered message, a retried Lambda) yields the same ids and the ledger charges each once.
 */
export function planRequests(options: PlanOptions): GenerationRequest[] {
  const rng = new Prng(`synth-plan:${options.seed ?? options.batchId}`);
  const captions = options.captions?.length ? options.captions : BUILT_IN_CAPTIONS;
  const clusters = expandClusters(options.hardCases ?? [], options.count);
  const requests: GenerationRequest[] = [];
  for (let i = 0; i < options.count; i++) {
    const cluster = clusters[i];
    const source = options.sources?.length ? options.sources[i % options.sources.length] : undefined;
    const label: 0 | 1 = options.label ?? cluster?.label ?? (i % 2 === 0 ? 1 : 0);
    const caption = source?.caption ?? captions[Math.floor(rng.next() * captions.length)]!;
    const objects = rng.chance(0.5)
      ? [rng.pick(ROADWORK_OBJECTS)]
      : [rng.pick(ROADWORK_OBJECTS), rng.pick(ROADWORK_OBJECTS)].filter((o, k, a) => a.indexOf(o) === k);
    const { prompt, negativePrompt } = composePrompt({
      caption: normalizeCaption(caption.text),
      label,
      objects,
      condition: rng.pick(CONDITIONS),
      ...(cluster ? { hardCase: cluster.description } : {}),
    });
    const context: Record<string, string> = { captionSource: caption.source };
    if (caption.recordId) context.captionRecord = caption.recordId;
    if (cluster) context.hardCaseCluster = cluster.id;
    requests.push(
      GenerationRequestSchema.parse({
        requestId: `${options.batchId}-${i}`,
        prompt,
        negativePrompt,
        label,
        seed: 1 + Math.floor(rng.next() * (MAX_SEED - 1)),
        aspectRatio: options.aspectRatio ?? "16:9",
        ...(source ? { source: { id: source.id, group: source.group, strength: options.strength ?? 0.7 } } : {}),
        context,
      }),
    );
  }
  return requests;
}

/** Assigns each batch slot a cluster in proportion to the clusters' weights (largest remainder). */
function expandClusters(clusters: HardCaseCluster[], count: number): (HardCaseCluster | undefined)[] {
  if (clusters.length === 0) return [];
  const total = clusters.reduce((s, c) => s + (c.weight ?? 1), 0);
  const quotas = clusters.map((c) => (count * (c.weight ?? 1)) / total);
  const counts = quotas.map(Math.floor);
  const order = quotas.map((q, i) => [q - Math.floor(q), i] as const).sort((a, b) => b[0] - a[0]);
  for (let k = 0; counts.reduce((s, c) => s + c, 0) < count; k++) counts[order[k % order.length]![1]]!++;
  const slots: HardCaseCluster[] = [];
  // Interleave so a budget stop mid-batch still leaves every cluster represented.
  for (let round = 0; slots.length < count; round++) {
    clusters.forEach((c, i) => {
      if (round < counts[i]!) slots.push(c);
    });
  }
  return slots;
}
