// The contract between the axon and the inference engine: image bytes in, roadwork probability out.

/** Result of scoring one image. `score` is the calibrated probability of roadwork, in (0,1), never exactly 0.5. */
export interface ScoreResult {
  score: number;
  /** Version of the model bundle that produced the score (for prediction records and metrics). */
  modelVersion: string;
  /** True when the answer came from the image-hash cache. */
  cached: boolean;
  /** Where the time went (absent on cache hits). `inferenceMs` includes waiting for a micro-batch. */
  timings?: { decodeMs: number; preprocessMs: number; inferenceMs: number };
}

export interface ScoreOptions {
  /** Aborts waiting (queueing/batching) when the caller's deadline passes. */
  signal?: AbortSignal;
}

export interface Scorer {
  /** Version of the model currently serving. */
  readonly modelVersion: string;
  /**
   * Where the model runs, when the scorer knows: "cpu" means inference occupies the host's cores (and, with
   * onnxruntime-node, the calling thread), which the axon's choice of signature checker takes into account.
   */
  readonly device?: "cpu" | "cuda";
  /** Scores encoded image bytes (JPEG/PNG/WebP). Rejects with ImageInputError for undecodable or hostile images. */
  score(image: Uint8Array, options?: ScoreOptions): Promise<ScoreResult>;
  /**
   * Pixels decoding this image will allocate, from its header alone (a JPEG decoded with shrink-on-load costs its
   * reduced size, anything else its full size); undefined when the header cannot be read. For the pixel budget.
   */
  decodedPixels?(image: Uint8Array): number | undefined;
  close(): Promise<void>;
}

/** The image itself is unusable: not an image, truncated, too many pixels. The caller answers 400 with `message`. */
export class ImageInputError extends Error {
  override readonly name = "ImageInputError";
  constructor(
    message: string,
    readonly reason: "not_image" | "corrupt" | "too_many_pixels" | "too_small" | "unsupported",
  ) {
    super(message);
  }
}
