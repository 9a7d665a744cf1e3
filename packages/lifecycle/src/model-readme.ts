// README.md for the Hugging Face repo: a model card with YAML metadata and the evaluation metrics of this version.
import { z } from "zod";
import type { ModelCard } from "./model-card.ts";

/** Evaluation metrics as the training report writes them: flat name -> number (accuracy, mcc, f1, auc, ...). */
export const EvaluationMetrics = z.record(z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/), z.number().finite());
export type EvaluationMetrics = z.infer<typeof EvaluationMetrics>;

export interface ReadmeInput {
  card: ModelCard;
  metrics?: EvaluationMetrics;
  /** Files of the bundle, for the "Files" section. */
  files: readonly { path: string; size: number }[];
  /** Where the metrics were measured, e.g. "held-out real NATIX images, 2 000 samples". */
  evaluationSet?: string;
}

const clean = (s: string) => s.replace(/[\r\n]+/g, " ").replace(/[<>]/g, "");

export function renderModelReadme(input: ReadmeInput): string {
  const { card } = input;
  const metrics = EvaluationMetrics.parse(input.metrics ?? {});
  const lines = [
    "---",
    "library_name: onnx",
    "pipeline_tag: image-classification",
    "tags:",
    "  - bittensor",
    "  - natix",
    "  - streetvision",
    "  - roadwork",
    "---",
    "",
    `# ${clean(card.model_name)}`,
    "",
    clean(card.description),
    "",
    "Binary roadwork classifier for the NATIX StreetVision subnet of Bittensor: a 224x224 street image in, the",
    "probability that it shows roadwork out.",
    "",
    "| field | value |",
    "|---|---|",
    `| version | ${card.version} |`,
    `| submitted by (hotkey) | \`${card.submitted_by}\` |`,
    `| submission time | ${card.submission_time} (${new Date(card.submission_time * 1000).toISOString()}) |`,
    "",
    "## Evaluation",
    "",
  ];
  const names = Object.keys(metrics).sort();
  if (names.length === 0) {
    lines.push("No evaluation metrics were attached to this version.");
  } else {
    if (input.evaluationSet) lines.push(`Measured on ${clean(input.evaluationSet)}.`, "");
    lines.push("| metric | value |", "|---|---|");
    for (const n of names) lines.push(`| ${n} | ${formatMetric(metrics[n]!)} |`);
  }
  lines.push("", "## Files", "", "| file | bytes |", "|---|---|");
  for (const f of [...input.files].sort((a, b) => a.path.localeCompare(b.path))) {
    lines.push(`| \`${f.path}\` | ${f.size} |`);
  }
  lines.push("", "`model_card.json` ties this model to the hotkey above for NATIX.", "");
  return lines.join("\n");
}

function formatMetric(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(4);
}

/** The evaluation metrics a bundle ships (`metrics.json` or `evaluation.json`): its finite numeric fields only. */
export function metricsFromBundle(
  files: readonly { path: string; content: Uint8Array }[],
): EvaluationMetrics | undefined {
  const f = files.find((x) => x.path === "metrics.json" || x.path === "evaluation.json");
  if (!f) return undefined;
  let obj: unknown;
  try {
    obj = JSON.parse(new TextDecoder().decode(f.content));
  } catch {
    return undefined;
  }
  if (!obj || typeof obj !== "object") return undefined;
  return Object.fromEntries(
    Object.entries(obj).filter(
      ([k, v]) => typeof v === "number" && Number.isFinite(v) && /^[A-Za-z0-9_.@-]{1,64}$/.test(k),
    ),
  ) as EvaluationMetrics;
}
