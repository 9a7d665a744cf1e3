// Runs one synthetic batch: for each planned request, reserve its price in the ledger, call the generator (retrying
// throttling with backoff, at most `concurrency` calls in flight), settle the actual cost, gate each image, and keep
// it under accepted/ or rejected/. A hard budget stop ends the batch cleanly (in-flight calls finish, nothing new
// starts); an access-denied or quota error ends it too, since every further call would fail the same way.
import { createHash } from "node:crypto";
import { type Embedder, frechetDistance, kernelInceptionDistance } from "./embedding-distance.ts";
import { type GateContext, type GateDecision, judgeImage, type RejectionReason } from "./gates.ts";
import {
  GenerationError,
  type GenerationFailure,
  type GenerationRequest,
  type ImageGenerator,
  type Provenance,
} from "./generator.ts";
import type { BudgetLedger } from "./ledger.ts";
import type { ModelPrice } from "./prices.ts";

/** Where images go (a directory, an S3 prefix). Returns the stored location. */
export interface ImageSink {
  put(relativePath: string, bytes: Uint8Array, contentType: string): Promise<string>;
}

/** Per-request records kept beside the images, so a redelivered batch can commit what an earlier attempt made. */
export interface BatchJournal {
  save(requestId: string, records: SynthImageRecord[]): Promise<void>;
  load(requestId: string): Promise<SynthImageRecord[] | undefined>;
}

export interface BudgetAlerter {
  alert(subject: string, message: string): Promise<void>;
}

export interface SynthImageRecord {
  requestId: string;
  /** Relative to the batch's output root. */
  path: string;
  location: string;
  sha256: string;
  label: 0 | 1;
  /** "prompt": the prompt's label; "teacher": the prompt's label, confirmed by the teacher. */
  labelSource: "prompt" | "teacher";
  /** Split group: an image-to-image result joins its source's group; a text-to-image result is its own group. */
  group: string;
  provenance: Provenance;
  reasons: RejectionReason[];
  detail: string[];
  measures?: GateDecision["measures"];
  teacher?: GateDecision["teacher"];
  nearest?: GateDecision["nearest"];
}

export interface BatchDistance {
  embedder: string;
  real: number;
  synthetic: number;
  /** Kernel Inception Distance on the backbone embeddings (unbiased; fine for small batches). */
  kid: number;
  /** Fréchet distance on a fixed 16-dimensional random projection of the backbone embeddings. */
  frechet: number;
  frechetDims: number;
}

export interface BatchResult {
  batchId: string;
  generator: string;
  model: string;
  price: ModelPrice;
  requested: number;
  accepted: SynthImageRecord[];
  rejected: SynthImageRecord[];
  /** Requests the ledger had already charged (a redelivered batch): not generated again. */
  alreadyDone: string[];
  /** Their images, read back from the journal (so the dataset commit still includes them). */
  recovered: SynthImageRecord[];
  failures: Partial<Record<GenerationFailure | "in-progress", number>>;
  retries: number;
  costUsd: number;
  estimateUsd: number;
  stopped?: { reason: "budget" | "access-denied" | "quota-exceeded"; message: string };
  distance?: BatchDistance;
  startedAt: string;
  finishedAt: string;
}

export type BatchEvent =
  | { kind: "progress"; done: number; total: number; accepted: number; rejected: number; costUsd: number }
  | { kind: "retry"; requestId: string; attempt: number; error: string }
  | { kind: "failure"; requestId: string; error: GenerationError }
  | { kind: "stopped"; reason: string; message: string };

export interface BatchOptions {
  batchId: string;
  generator: ImageGenerator;
  requests: GenerationRequest[];
  price: ModelPrice;
  sink: ImageSink;
  gates: GateContext;
  ledger?: BudgetLedger;
  alerter?: BudgetAlerter;
  journal?: BatchJournal;
  /** Encoded real frame of an image-to-image request's source id. */
  loadSource?: (id: string) => Promise<Uint8Array>;
  /** Backbone embeddings of real images, for the batch distance figure. */
  realEmbeddings?: Float32Array[];
  concurrency?: number;
  retry?: { attempts: number; baseDelayMs: number };
  onEvent?: (event: BatchEvent) => void;
}

export async function runBatch(options: BatchOptions): Promise<BatchResult> {
  const startedAt = new Date().toISOString();
  const { generator, price } = options;
  await generator.prepare();
  const result: BatchResult = {
    batchId: options.batchId,
    generator: generator.id,
    model: generator.model,
    price,
    requested: options.requests.length,
    accepted: [],
    rejected: [],
    alreadyDone: [],
    recovered: [],
    failures: {},
    retries: 0,
    costUsd: 0,
    estimateUsd: round(options.requests.length * price.usdPerImage),
    startedAt,
    finishedAt: startedAt,
  };
  const embeddings: Float32Array[] = [];
  const emit = options.onEvent ?? (() => {});
  const retry = options.retry ?? { attempts: 4, baseDelayMs: 1000 };
  const gateLock = new SerialLock();
  let next = 0;
  let done = 0;
  const stop = (reason: NonNullable<BatchResult["stopped"]>["reason"], message: string) => {
    if (result.stopped) return;
    result.stopped = { reason, message };
    emit({ kind: "stopped", reason, message });
  };
  const count = (kind: GenerationFailure | "in-progress") => {
    result.failures[kind] = (result.failures[kind] ?? 0) + 1;
  };

  const handle = async (request: GenerationRequest): Promise<void> => {
    const usd = price.usdPerImage;
    if (options.ledger) {
      const r = await options.ledger.reserve(request.requestId, generator.model, usd);
      if (r.status === "done") {
        result.alreadyDone.push(request.requestId);
        const earlier = await options.journal?.load(request.requestId);
        if (earlier) result.recovered.push(...earlier);
        return;
      }
      if (r.status === "in-progress") {
        count("in-progress");
        return;
      }
      if (r.status === "over-budget") {
        const message = `budget reached: ${r.period} cap $${r.capUsd.toFixed(2)}, spent $${r.spentUsd.toFixed(2)}; next image would cost $${usd.toFixed(2)}`;
        stop("budget", message);
        if (r.alert && options.alerter)
          await options.alerter.alert("Roadwork synthetic generation stopped at its budget", message);
        return;
      }
    }
    const source = request.source ? await options.loadSource?.(request.source.id) : undefined;
    let images: Awaited<ReturnType<ImageGenerator["generate"]>> | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        images = await generator.generate(request, source);
        break;
      } catch (error) {
        const e =
          error instanceof GenerationError
            ? error
            : new GenerationError("model-error", (error as Error).message, false, true);
        count(e.kind);
        if (e.retryable && attempt < retry.attempts && !result.stopped) {
          result.retries++;
          emit({ kind: "retry", requestId: request.requestId, attempt, error: e.message });
          await new Promise((r) => setTimeout(r, retry.baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random())));
          continue;
        }
        emit({ kind: "failure", requestId: request.requestId, error: e });
        const billed = e.billed ? usd : 0;
        result.costUsd += billed;
        await options.ledger?.settle(request.requestId, billed, `failed: ${e.kind}`);
        if (e.kind === "access-denied" || e.kind === "quota-exceeded") stop(e.kind, e.message);
        return;
      }
    }
    const outputs: string[] = [];
    const made: SynthImageRecord[] = [];
    for (const [i, image] of images.entries()) {
      // One image at a time through the gates: a near-duplicate of an image accepted a moment ago must be caught.
      const decision = await gateLock.run(async () => {
        const d = await judgeImage(image.bytes, request.label, options.gates);
        if (d.accepted) options.gates.reference.add(request.requestId, d.measures?.phash, d.embedding);
        return d;
      });
      const suffix = images.length > 1 ? `-${i}` : "";
      const ext = image.format === "png" ? "png" : image.format === "webp" ? "webp" : "jpg";
      const folder = decision.accepted ? "accepted" : "rejected";
      const path = `images/${folder}/${request.requestId}${suffix}.${ext}`;
      const location = await options.sink.put(path, image.bytes, `image/${ext === "jpg" ? "jpeg" : ext}`);
      outputs.push(location);
      const record: SynthImageRecord = {
        requestId: request.requestId,
        path,
        location,
        sha256: createHash("sha256").update(image.bytes).digest("hex"),
        label: request.label,
        labelSource: decision.teacher && decision.accepted ? "teacher" : "prompt",
        group: request.source ? request.source.group : `synth-${request.requestId}`,
        provenance: image.provenance,
        reasons: decision.reasons,
        detail: decision.detail,
        ...(decision.measures ? { measures: decision.measures } : {}),
        ...(decision.teacher ? { teacher: decision.teacher } : {}),
        ...(decision.nearest ? { nearest: decision.nearest } : {}),
      };
      made.push(record);
      if (decision.accepted) {
        result.accepted.push(record);
        if (decision.embedding) embeddings.push(decision.embedding);
      } else {
        result.rejected.push(record);
      }
    }
    await options.journal?.save(request.requestId, made);
    result.costUsd += usd;
    await options.ledger?.settle(request.requestId, usd, `generated ${images.length}`, outputs.join(","));
  };

  const worker = async (): Promise<void> => {
    while (!result.stopped && next < options.requests.length) {
      const request = options.requests[next++]!;
      await handle(request);
      done++;
      emit({
        kind: "progress",
        done,
        total: options.requests.length,
        accepted: result.accepted.length,
        rejected: result.rejected.length,
        costUsd: round(result.costUsd),
      });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));
  result.costUsd = round(result.costUsd);
  if (
    options.gates.embedder &&
    options.realEmbeddings &&
    options.realEmbeddings.length >= 2 &&
    embeddings.length >= 2
  ) {
    result.distance = batchDistance(options.gates.embedder, options.realEmbeddings, embeddings);
  }
  result.finishedAt = new Date().toISOString();
  return result;
}

export function batchDistance(embedder: Embedder, real: Float32Array[], synthetic: Float32Array[]): BatchDistance {
  return {
    embedder: embedder.name,
    real: real.length,
    synthetic: synthetic.length,
    kid: kernelInceptionDistance(synthetic, real),
    frechet: frechetDistance(synthetic, real, 16),
    frechetDims: 16,
  };
}

class SerialLock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

const round = (usd: number) => Math.round(usd * 1e6) / 1e6;
