// Teachers: something larger or smarter than the serving model that labels captured challenges. A teacher answers
// with a label and a confidence, or abstains (and says why); it never throws, so one bad image or a throttled API
// never stops a batch. `teachBatch` applies the confidence threshold and the agreement rule: a sure answer that
// agrees with the serving model becomes a "teacher" label; a sure answer that disagrees, and every abstention, goes to
// human review.
import type { LabelChange } from "../dataset/record.ts";
import type { BatchItem, LabellingBatch, TeacherNote } from "./batch.ts";

export type AbstainReason = "refused" | "filtered" | "malformed" | "throttled" | "error";

export type TeacherVerdict =
  | { kind: "answer"; label: 0 | 1; confidence: number; reason: string }
  | { kind: "abstain"; why: AbstainReason; detail: string };

export interface Teacher {
  /** Identifies the teacher in notes, e.g. "bedrock:anthropic.claude-…" or "ensemble:big@2.0.0". */
  readonly name: string;
  label(image: Uint8Array, mediaType: string): Promise<TeacherVerdict>;
}

/** What a local ensemble needs: a scorer of encoded images (the inference package's Scorer fits). */
export interface ImageScorer {
  readonly modelVersion: string;
  score(image: Uint8Array): Promise<{ score: number }>;
}

/**
 * A larger local model (a bundle run through the inference engine) as teacher: its score's distance from 0.5,
 * stretched to [0, 1], is its confidence (a calibrated 0.97 is a confident "roadwork", 0.55 is a guess).
 */
export class EnsembleTeacher implements Teacher {
  readonly name: string;

  constructor(private readonly scorer: ImageScorer) {
    this.name = `ensemble:${scorer.modelVersion}`;
  }

  async label(image: Uint8Array): Promise<TeacherVerdict> {
    try {
      const { score } = await this.scorer.score(image);
      if (!Number.isFinite(score))
        return { kind: "abstain", why: "error", detail: "the ensemble gave a non-finite score" };
      return {
        kind: "answer",
        label: score > 0.5 ? 1 : 0,
        confidence: Math.min(1, Math.abs(2 * score - 1)),
        reason: `ensemble score ${score.toFixed(3)}`,
      };
    } catch (error) {
      return { kind: "abstain", why: "error", detail: (error as Error).message };
    }
  }
}

export interface TeachOptions {
  /** Below this confidence a teacher's answer is not written (the case goes to review). Default 0.8. */
  minConfidence?: number;
  /** Images labelled at once. Default 4. */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface TeachResult {
  batch: LabellingBatch;
  /** Sure answers that agree with the serving model: to be written with labelSource "teacher". */
  labels: LabelChange[];
  counts: { labelled: number; disagreed: number; abstained: number; unsure: number; byReason: Record<string, number> };
}

/** Runs the teacher over every item of a batch; returns the batch with teacher notes and the labels to write. */
export async function teachBatch(
  batch: LabellingBatch,
  teacher: Teacher,
  image: (item: BatchItem) => Promise<Uint8Array>,
  options: TeachOptions = {},
): Promise<TeachResult> {
  const minConfidence = options.minConfidence ?? 0.8;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const notes: TeacherNote[] = new Array(batch.items.length);
  const counts: TeachResult["counts"] = { labelled: 0, disagreed: 0, abstained: 0, unsure: 0, byReason: {} };
  const labels: LabelChange[] = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= batch.items.length) return;
      const item = batch.items[i]!;
      let verdict: TeacherVerdict;
      try {
        verdict = await teacher.label(await image(item), item.mediaType);
      } catch (error) {
        verdict = { kind: "abstain", why: "error", detail: (error as Error).message };
      }
      notes[i] = noteFor(item, verdict, teacher.name, minConfidence);
      const note = notes[i]!;
      if (verdict.kind === "abstain") counts.byReason[verdict.why] = (counts.byReason[verdict.why] ?? 0) + 1;
      if (note.outcome === "labelled") {
        counts.labelled++;
        labels.push({
          sha256: item.sha256,
          label: note.label as 0 | 1,
          labelSource: "teacher",
          labelConfidence: note.confidence as number,
        });
      } else if (note.outcome === "disagreed") counts.disagreed++;
      else {
        counts.abstained++;
        if (verdict.kind === "answer") counts.unsure++;
      }
      options.onProgress?.(++done, batch.items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, batch.items.length) }, worker));
  return {
    batch: { ...batch, items: batch.items.map((item, i) => ({ ...item, teacher: notes[i]! })) },
    labels,
    counts,
  };
}

function noteFor(item: BatchItem, verdict: TeacherVerdict, teacher: string, minConfidence: number): TeacherNote {
  if (verdict.kind === "abstain") {
    return {
      teacher,
      outcome: "abstained",
      label: null,
      confidence: null,
      reason: `${verdict.why}: ${verdict.detail}`,
    };
  }
  const base = { teacher, label: verdict.label, confidence: verdict.confidence, reason: verdict.reason };
  if (verdict.confidence < minConfidence) return { ...base, outcome: "abstained" };
  const model = item.score > 0.5 ? 1 : 0;
  return { ...base, outcome: model === verdict.label ? "labelled" : "disagreed" };
}
