// A vision-language model on Amazon Bedrock as teacher, through the Converse API (one request shape for every model
// that takes images). The image goes as bytes; the model must answer strict JSON, validated with zod. Refusals,
// filtered content, malformed answers and errors become abstentions (counted); ThrottlingException is retried a
// bounded number of times with exponential backoff and jitter, then abstains. The client is injected.
import {
  type BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandOutput,
} from "@aws-sdk/client-bedrock-runtime";
import sharp from "sharp";
import { z } from "zod";
import type { AbstainReason, Teacher, TeacherVerdict } from "./teacher.ts";

export const TEACHER_SYSTEM_PROMPT = `You label dashcam and street images for a road-construction detector.
"Roadwork" means active or set-up road construction or maintenance: traffic cones or barrels placed for works,
construction barriers, roadwork signs, excavation, work vehicles or workers on or beside the road.
Answer with ONLY a JSON object, no prose and no code fence:
{"roadwork": true|false, "confidence": <number from 0 to 1>, "reason": "<at most 20 words>"}`;

export const TeacherAnswerSchema = z
  .object({
    roadwork: z.boolean(),
    confidence: z.number().min(0).max(1),
    reason: z.string().max(500).default(""),
  })
  .strict();

const RETRYABLE = new Set(["ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException"]);
const REFUSAL = /\b(sorry|can(?:no|')t|unable to|not able to|won't|refuse)\b/i;
/** Anthropic's guidance for image input: longer sides are downscaled anyway; Bedrock caps an image at 3.75 MB. */
const MAX_SIDE = 1568;
const MAX_BYTES = 3_750_000;

export interface BedrockTeacherOptions {
  client: BedrockRuntimeClient;
  modelId: string;
  /** Attempts per image when throttled (default 4). */
  maxAttempts?: number;
  /** First backoff; doubles per retry, with full jitter (default 500 ms). */
  baseDelayMs?: number;
  maxTokens?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface BedrockTeacherStats {
  calls: number;
  throttled: number;
  answers: number;
  abstentions: Record<AbstainReason, number>;
}

export class BedrockTeacher implements Teacher {
  readonly name: string;
  readonly stats: BedrockTeacherStats = {
    calls: 0,
    throttled: 0,
    answers: 0,
    abstentions: { refused: 0, filtered: 0, malformed: 0, throttled: 0, error: 0 },
  };
  readonly #o: Required<Omit<BedrockTeacherOptions, "client">> & { client: BedrockRuntimeClient };

  constructor(options: BedrockTeacherOptions) {
    this.#o = {
      maxAttempts: 4,
      baseDelayMs: 500,
      maxTokens: 200,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      ...options,
    };
    this.name = `bedrock:${options.modelId}`;
  }

  async label(image: Uint8Array, mediaType: string): Promise<TeacherVerdict> {
    const verdict = await this.#label(image, mediaType);
    if (verdict.kind === "answer") this.stats.answers++;
    else this.stats.abstentions[verdict.why]++;
    return verdict;
  }

  async #label(image: Uint8Array, mediaType: string): Promise<TeacherVerdict> {
    let prepared: { bytes: Uint8Array; format: "jpeg" | "png" | "webp" };
    try {
      prepared = await fitForBedrock(image, mediaType);
    } catch (error) {
      return { kind: "abstain", why: "error", detail: `cannot read the image: ${(error as Error).message}` };
    }
    let output: ConverseCommandOutput | undefined;
    for (let attempt = 1; ; attempt++) {
      this.stats.calls++;
      try {
        output = await this.#o.client.send(
          new ConverseCommand({
            modelId: this.#o.modelId,
            system: [{ text: TEACHER_SYSTEM_PROMPT }],
            messages: [
              {
                role: "user",
                content: [
                  { image: { format: prepared.format, source: { bytes: prepared.bytes } } },
                  { text: "Does this image show roadwork? Answer with the JSON object only." },
                ],
              },
            ],
            inferenceConfig: { maxTokens: this.#o.maxTokens, temperature: 0 },
          }),
        );
        break;
      } catch (error) {
        const name = (error as Error).name;
        if (RETRYABLE.has(name)) {
          this.stats.throttled++;
          if (attempt >= this.#o.maxAttempts) {
            return { kind: "abstain", why: "throttled", detail: `${name} after ${attempt} attempts` };
          }
          await this.#o.sleep(Math.random() * this.#o.baseDelayMs * 2 ** (attempt - 1));
          continue;
        }
        return { kind: "abstain", why: "error", detail: `${name}: ${(error as Error).message}` };
      }
    }
    return readAnswer(output);
  }
}

/** Turns a Converse reply into a verdict: strict JSON or an abstention that says what was wrong. */
export function readAnswer(output: ConverseCommandOutput): TeacherVerdict {
  if (output.stopReason === "content_filtered" || output.stopReason === "guardrail_intervened") {
    return { kind: "abstain", why: "filtered", detail: `stopReason ${output.stopReason}` };
  }
  const text = (output.output?.message?.content ?? [])
    .map((b) => b.text ?? "")
    .join("")
    .trim();
  const unfenced = text.replace(/^```(?:json)?\s*/i, "").replace(/\s*```$/, "");
  let json: unknown;
  try {
    json = JSON.parse(unfenced);
  } catch {
    const why = REFUSAL.test(text) ? "refused" : "malformed";
    return { kind: "abstain", why, detail: text.slice(0, 120) || "(empty answer)" };
  }
  const parsed = TeacherAnswerSchema.safeParse(json);
  if (!parsed.success) {
    return {
      kind: "abstain",
      why: "malformed",
      detail: `answer is not {roadwork, confidence, reason}: ${text.slice(0, 120)}`,
    };
  }
  return {
    kind: "answer",
    label: parsed.data.roadwork ? 1 : 0,
    confidence: parsed.data.confidence,
    reason: parsed.data.reason,
  };
}

async function fitForBedrock(
  image: Uint8Array,
  mediaType: string,
): Promise<{ bytes: Uint8Array; format: "jpeg" | "png" | "webp" }> {
  const meta = await sharp(image).metadata();
  const format = mediaType.replace("image/", "");
  const small = (meta.width ?? 0) <= MAX_SIDE && (meta.height ?? 0) <= MAX_SIDE && image.byteLength <= MAX_BYTES;
  if (small && (format === "jpeg" || format === "png" || format === "webp")) return { bytes: image, format };
  const bytes = await sharp(image)
    .resize(MAX_SIDE, MAX_SIDE, { fit: "inside", withoutEnlargement: true })
    .jpeg({ quality: 90 })
    .toBuffer();
  return { bytes: new Uint8Array(bytes), format: "jpeg" };
}
