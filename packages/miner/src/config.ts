// Axon configuration: validated once at the composition root, immutable afterwards.
import { z } from "zod";

const MiB = 1024 * 1024;

const HotkeyList = z.array(z.string().min(40).max(60)).default([]);

export const AxonConfigSchema = z.object({
  /** TCP port of the public axon listener (8091 is the bittensor default). 0 picks a free port. */
  port: z.number().int().min(0).max(65535).default(8091),
  /** "::" listens dual stack (IPv4 and IPv6); validators may bracket IPv6 literals. */
  host: z.string().min(1).default("::"),
  /**
   * Largest accepted request body. Validators send a 224x224 q75 JPEG (~15-30 KB of base64); when their augmentation
   * fails they send the original frame, which for a 4K dashcam JPEG is ~3 MB (~4 MB of base64). 8 MiB keeps 2x
   * headroom over that while bounding memory: the body is held about three times (bytes, JSON string, decoded image).
   */
  bodyLimitBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * MiB)
    .default(8 * MiB),
  /** Upper bound on the caller's `timeout` header; the per-request deadline is min(timeout, cap) from arrival. */
  maxTimeoutS: z.number().positive().max(120).default(12),
  /** Deadline used when the `timeout` header is absent or not a positive finite number (Python's default is 12). */
  defaultTimeoutS: z.number().positive().max(120).default(12),
  /** Callers below this stake (TAO-equivalent units, as in the snapshot) get 403. */
  minStake: z.number().min(0).default(0),
  /** Natix deployments run with --blacklist.force_validator_permit: only validators may query. */
  requireValidatorPermit: z.boolean().default(true),
  /** Hotkeys admitted without the metagraph checks (for example an operator's own test dendrite). */
  allowHotkeys: HotkeyList,
  /** Hotkeys always refused, even when registered with a permit. */
  denyHotkeys: HotkeyList,
  queue: z
    .object({
      /** Images scored at once; the scorer itself may batch further. */
      maxConcurrent: z.number().int().min(1).max(1024).default(4),
      /** Requests waiting for a scoring slot, ordered by caller stake; beyond this the lowest stake gets 503. */
      maxQueued: z.number().int().min(0).max(100_000).default(64),
      /**
       * Images of at least this many bytes are large: decoding one costs CPU in proportion to its compressed size
       * (entropy decoding: ~20 ms per MB here, one core), which the pixel budget does not see, since a JPEG decoded
       * with shrink-on-load is charged its reduced size. Validators' 224×224 challenges are 15-30 KB and native
       * 1920×1080 frames a few hundred KB; a 4K dashcam frame is ~3 MB.
       */
      largeImageBytes: z
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024),
      /** Large images scored at once (stake-ordered, queued up to maxQueued): with one, large frames, however many
       * arrive together, take at most one core from the small images every validator sends. */
      maxConcurrentLarge: z.number().int().min(1).max(1024).default(1),
      /**
       * Niceness (0-19) of libvips' decode threads, which the large images' decodes run on (decode-priority.ts): at 19
       * they only take CPU the event loop, the signature checks and inference leave. 0 leaves them as started. Applied
       * before and after each large image; a thread once lowered stays lowered.
       */
      largeDecodeNice: z.number().int().min(0).max(19).default(19),
    })
    .prefault({}),
  /**
   * Admission before any expensive work, per source address (IPv4, or the /64 of IPv6). Validators query from a handful
   * of fixed hosts, one request per connection at a time (aiohttp), authenticate on every request and never fail
   * verification, so every default below is far above what one honest validator uses and far below what a flood needs.
   */
  admission: z
    .object({
      /** aiohttp opens a few pooled connections per miner; 32 leaves room for bursts of organic tasks. */
      maxConnectionsPerAddress: z.number().int().min(1).default(32),
      /** Unverified requests of one address at once: a validator's organic bursts are ~10 requests, each on its own
       * connection; this is one per allowed connection. */
      maxPreAuthPerAddress: z.number().int().min(1).default(32),
      /** Requests waiting for the connection ahead of them to be answered; aiohttp never pipelines. */
      maxPipelined: z.number().int().min(1).max(64).default(4),
      /** Failed pre-auth requests (bad headers, blacklisted, bad signature, stale nonce, broken framing) one address may
       * send back to back, then `failureRefillPerSecond`; past that its connections are closed unanswered. */
      failureBurst: z.number().int().min(1).default(20),
      failureRefillPerSecond: z.number().positive().default(1),
      /** How long an address over its failure budget is shed; its budget restarts empty afterwards. */
      shedForS: z.number().positive().max(3600).default(30),
      /** An address that authenticated as a permitted validator keeps the fast lane this long: its signature checks go
       * first, overlap with decoding and inference, and it is never shed. Validators query every ~66 s. */
      fastLaneTtlS: z.number().positive().max(86_400).default(600),
      /** Headers must be complete this long after their first byte (absolute: trickling does not extend it). */
      headersDeadlineMs: z.number().int().min(500).max(60_000).default(10_000),
      /** After we end a connection, the peer has this long to read the last answer before the socket is destroyed. */
      lingerMs: z.number().int().min(0).max(30_000).default(2_000),
      /** Signature checks running at once (the worker pool queues beyond its threads). */
      verifyConcurrency: z.number().int().min(1).max(1024).default(4),
      /** Requests waiting for a signature check, highest claimed stake first; fast-lane addresses ahead of all. */
      verifyQueue: z.number().int().min(0).max(100_000).default(256),
    })
    .prefault({}),
  /**
   * Decompression budget, charged from the image header before decoding. Native dashcam frames are at most 4K
   * (8.3 MP) and phone photos 12-24 MP; a PNG or WebP "bomb" claims tens of megapixels in a few KB.
   */
  pixels: z
    .object({
      /** Largest width × height accepted per request (24 MP = 6000×4000); larger gets 400 before decoding. */
      maxPerImage: z.number().int().min(1).default(24_000_000),
      /** Pixels being decoded and scored at once (~3 bytes each while decoding): two maximal images, ~150 MB. */
      maxInFlight: z.number().int().min(1).default(48_000_000),
    })
    .prefault({})
    .refine((p) => p.maxInFlight >= p.maxPerImage, "pixels.maxInFlight must be >= pixels.maxPerImage"),
  rateLimit: z
    .object({
      /** Requests a hotkey may send back to back. A validator sends ~1 challenge a minute plus organic tasks. */
      burst: z.number().int().min(1).default(20),
      /** Sustained requests per second per hotkey (token refill rate). */
      refillPerSecond: z.number().positive().default(2),
    })
    .prefault({}),
  server: z
    .object({
      /** aiohttp keeps idle pooled connections 15 s; a shorter server keep-alive races it (ServerDisconnectedError). */
      keepAliveTimeoutMs: z.number().int().min(20_000).default(20_000),
      /** Must exceed keepAliveTimeoutMs (Node requirement for keep-alive correctness). */
      headersTimeoutMs: z.number().int().min(1_000).default(25_000),
      /** Bounds a whole request (headers + body), whatever the deadline logic does. */
      requestTimeoutMs: z.number().int().min(1_000).default(30_000),
      /** Node's request header cap; bigger header blocks get 431. */
      maxHeaderBytes: z
        .number()
        .int()
        .min(4096)
        .max(65536)
        .default(16 * 1024),
      /** Concurrent TCP connections; bounds memory held by slow uploads. Fast-lane validators get in beyond it. */
      maxConnections: z.number().int().min(1).default(512),
    })
    .prefault({})
    .refine((s) => s.headersTimeoutMs > s.keepAliveTimeoutMs, "headersTimeoutMs must exceed keepAliveTimeoutMs")
    .refine((s) => s.requestTimeoutMs >= s.headersTimeoutMs, "requestTimeoutMs must be >= headersTimeoutMs"),
  /** Admin listener (GET /metrics, GET /healthz). Off when port is absent; loopback by default. */
  admin: z
    .object({
      port: z.number().int().min(0).max(65535).optional(),
      host: z.string().min(1).default("127.0.0.1"),
    })
    .prefault({}),
  /**
   * Where sr25519 signatures are checked: "pool" (default) on the process-wide worker-thread pool, keeping ~0.5-3 ms
   * of WASM per request off the event loop, which a flood of forged requests would otherwise take; "inline" on the
   * event loop. Both apply exactly the same checks. "auto": inline when the scorer runs the model on the CPU, the pool
   * otherwise; there onnxruntime's threads already occupy every core and a worker hides nothing behind inference, but
   * at one request at a time on 2 cores it measured no better than the pool (docs/benchmarks.md, "CPU: where the
   * request's time goes"), so the pool's flood margin decides the default.
   */
  signatureVerification: z.enum(["auto", "pool", "inline"]).default("pool"),
  /** Prediction records waiting for the sink; beyond this they are dropped (and counted), never awaited. */
  predictionSinkMaxPending: z.number().int().min(1).default(1000),
});

export type AxonConfig = z.infer<typeof AxonConfigSchema>;
export type AxonConfigInput = z.input<typeof AxonConfigSchema>;

/** Validates operator input; the error names every bad field. */
export function parseAxonConfig(input: unknown): AxonConfig {
  const parsed = AxonConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`invalid axon configuration: ${issues}`);
  }
  return parsed.data;
}
