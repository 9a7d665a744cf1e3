// The axon as a hono app: POST /ImageSynapse runs parse → blacklist → per-address pre-auth budget → stake-ordered,
// deadline-bound signature check → rate limit → bounded body → body checks → pixel budget → (large images: their own
// lane) → stake-ordered scoring queue → deadline-bound scoring → signed-protocol response. For an address that
// recently authenticated as the same validator (the fast lane) the signature check runs beside body reading and
// scoring, and the answer waits for both.
// `createAxon` builds the app and its collaborators; `startAxon` (server.ts) puts it on the network.
import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import type { HttpBindings } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { ImageInputError, imageSha256, type Scorer } from "@roadwork/inference";
import {
  AVAILABLE_SYNAPSES,
  type AxonResponse,
  blacklisted,
  checkBodyHash,
  decodeImageFieldSliced,
  type ErrorContext,
  ensureCryptoReady,
  errorResponse,
  NonceStore,
  ProtocolError,
  parseRequestHeaders,
  protocolErrorResponse,
  type RequestHeaders,
  type SignatureVerifier,
  SYNAPSE_NAME,
  sharedSignatureVerifierPool,
  successResponse,
  unknownSynapse,
  verifyRequest,
  verifyRequestAsync,
} from "@roadwork/protocol";
import { type Context, Hono } from "hono";
import { AddressAdmission, addressKey, type ShedReason } from "./admission.ts";
import { Blacklist, type Caller } from "./blacklist.ts";
import { BodyTooLargeError, checkDeclaredLength, parseBody, readBoundedBody } from "./body.ts";
import type { ChallengeSampler } from "./capture.ts";
import { type AxonConfig, type AxonConfigInput, parseAxonConfig } from "./config.ts";
import { DeadlineExceededError, RequestDeadline } from "./deadline.ts";
import { DecodeThreadPriority } from "./decode-priority.ts";
import { pixelCost } from "./image-size.ts";
import { type AxonLogger, createJsonLogger } from "./logger.ts";
import type { MetagraphSource } from "./metagraph-source.ts";
import { AxonMetrics } from "./metrics.ts";
import { toWirePrediction } from "./prediction-guard.ts";
import { PredictionDispatcher, type PredictionSink } from "./prediction-sink.ts";
import { PriorityGate, QueueFullError } from "./priority-gate.ts";
import { HotkeyRateLimiter } from "./rate-limit.ts";

/** The axon's own identity. Only the address is needed to verify requests; signing is optional. */
export interface AxonHotkey {
  readonly address: string;
}

export interface AxonDeps {
  hotkey: AxonHotkey;
  scorer: Scorer;
  metagraph: MetagraphSource;
  config?: AxonConfigInput;
  /** Wall clock in ns since the epoch, for nonce freshness (fixed in the protocol test vectors). */
  nowNs?: () => bigint;
  /** Receives one record per answered prediction, after the response; never awaited by the request. */
  onPrediction?: PredictionSink;
  /** Keeps challenge images for the flywheel; `offer` is synchronous and never throws (capture.ts). */
  capture?: ChallengeSampler;
  logger?: AxonLogger;
  /** Shared across restarts of the app object in tests; a fresh store per axon otherwise. */
  nonces?: NonceStore;
  /** Checks signatures off the event loop; default per config.signatureVerification (the shared worker pool). */
  signatureVerifier?: SignatureVerifier;
}

export interface Axon {
  app: Hono;
  /** GET /metrics and GET /healthz, for the admin listener only. */
  adminApp: Hono;
  config: AxonConfig;
  metrics: AxonMetrics;
  logger: AxonLogger;
  gate: PriorityGate;
  /** Large images (config.queue.largeImageBytes) wait here, holding no scoring slot, before they enter `gate`. */
  largeLane: PriorityGate;
  /** Signature checks: stake-ordered, fast lane first. */
  verifyGate: PriorityGate;
  /** Per-address budgets, shared with the listener's connection guard. */
  admission: AddressAdmission;
  hotkey: string;
  /** Where this axon checks signatures: config.signatureVerification with "auto" resolved ("custom": injected). */
  verification: "pool" | "inline" | "custom";
}

/** Per-request facts gathered as the pipeline advances; error responses echo what is known. */
interface RequestState {
  id: string;
  startedAt: number;
  receivedAtMs: number;
  peer?: { ip: string; port: number };
  headers?: RequestHeaders;
  caller?: Caller;
}

const defaultNowNs = () => BigInt(Date.now()) * 1_000_000n;

export function createAxon(deps: AxonDeps): Axon {
  const config = parseAxonConfig(deps.config ?? {});
  const logger = deps.logger ?? createJsonLogger({ base: { component: "axon" } });
  const selfHotkey = deps.hotkey.address;
  const nowNs = deps.nowNs ?? defaultNowNs;
  const nonces = deps.nonces ?? new NonceStore();
  const verification =
    config.signatureVerification === "auto"
      ? deps.scorer.device === "cpu"
        ? "inline"
        : "pool"
      : config.signatureVerification;
  const verifier = deps.signatureVerifier ?? (verification === "pool" ? startPool(logger) : undefined);
  // Inline checks need the sr25519 WASM loaded on this thread; every caller then waits on one settled promise.
  const cryptoReady = verifier ? undefined : ensureCryptoReady();
  cryptoReady?.catch(() => {}); // a load failure fails each request's check (ensureCryptoReady says why), not the process
  const blacklist = new Blacklist(config);
  const limiter = new HotkeyRateLimiter(config.rateLimit);
  const gate = new PriorityGate({ ...config.queue, maxCost: config.pixels.maxInFlight });
  const largeLane = new PriorityGate({
    maxConcurrent: config.queue.maxConcurrentLarge,
    maxQueued: config.queue.maxQueued,
  });
  const decodePriority = new DecodeThreadPriority(config.queue.largeDecodeNice);
  const verifyGate = new PriorityGate({
    maxConcurrent: config.admission.verifyConcurrency,
    maxQueued: config.admission.verifyQueue,
  });
  const admission = new AddressAdmission(config.admission);
  /** Requests answered by closing their connection: not a status a validator sees, so not a request metric. */
  const shedRequests = new WeakSet<Request>();
  const metrics = new AxonMetrics();
  const predictions = new PredictionDispatcher(deps.onPrediction, config.predictionSinkMaxPending, metrics, logger);
  const { scorer, metagraph } = deps;
  metrics.bindGauges({
    queueDepth: () => gate.depth,
    activeScoring: () => gate.active,
    modelVersion: () => scorer.modelVersion,
    metagraphAgeS: () => {
      const ms = metagraph.ageMs?.();
      return ms === undefined ? undefined : ms / 1000;
    },
    metagraphBlock: () => metagraph.current().block,
  });

  const elapsedS = (state: RequestState) => (performance.now() - state.startedAt) / 1000;

  const send = (c: Context, r: AxonResponse, extra?: Record<string, string>): Response =>
    c.body(r.body, r.status as 200, { ...r.headers, ...extra });

  /** What an error response echoes: the parsed headers, with the TCP peer in place of the claimed dendrite ip. */
  const errorContext = (state: RequestState): ErrorContext => {
    const ctx: ErrorContext = { axonHotkey: selfHotkey, processTimeS: elapsedS(state) };
    if (state.headers) ctx.request = state.headers;
    if (state.peer) ctx.peer = state.peer;
    return ctx;
  };

  const fail = (c: Context, state: RequestState, status: number, message: string, extra?: Record<string, string>) =>
    send(c, errorResponse(status, message, errorContext(state)), extra);

  const failWith = (c: Context, state: RequestState, error: unknown): Response => {
    if (error instanceof ProtocolError) return send(c, protocolErrorResponse(error, errorContext(state)));
    if (error instanceof DeadlineExceededError) {
      // The body may still be arriving; do not keep the connection for it.
      return fail(c, state, 408, error.message, error.duringBody ? { connection: "close" } : undefined);
    }
    if (error instanceof BodyTooLargeError) return fail(c, state, 413, error.message, { connection: "close" });
    if (error instanceof QueueFullError) {
      return fail(c, state, 503, "Service busy: the scoring queue is full, retry later", { "retry-after": "1" });
    }
    if (error instanceof ImageInputError) return fail(c, state, 400, `Invalid image: ${error.message}`);
    if (error instanceof ClientGoneError) return c.body(null, 499 as 200);
    const ref = randomUUID();
    logger.error("request failed", {
      requestId: state.id,
      errorId: ref,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      caller: state.caller?.hotkey,
    });
    return fail(c, state, 500, `Internal Server Error #${ref}`);
  };

  /** Closes the connection without an answer: the address is over a budget, and answering costs as much as asking. */
  const shed = (c: Context, reason: ShedReason): Response => {
    admission.noteShed(reason);
    shedRequests.add(c.req.raw);
    socketOf(c)?.destroy();
    return c.body(null, 503);
  };

  const verify = (headers: RequestHeaders): Promise<void> => {
    const verifyCtx = { selfHotkey, nowNs: nowNs(), nonces };
    if (verifier) return verifyRequestAsync(headers, verifyCtx, verifier);
    return (cryptoReady ?? Promise.resolve()).then(() => verifyRequest(headers, verifyCtx));
  };

  const handleImageSynapse = async (c: Context): Promise<Response> => {
    const state: RequestState = { id: randomUUID(), startedAt: performance.now(), receivedAtMs: Date.now() };
    state.peer = peerOf(c);
    const address = addressKey(state.peer?.ip);
    const deadline = new RequestDeadline(config, c.req.raw.signal);
    let verified = false;
    /** The address ran out of failure budget with this request: close instead of answering. */
    let overBudget = false;
    let charged: string | undefined;
    let served = false;
    try {
      if (admission.isShed(address)) return shed(c, "failures");
      try {
        // 1. Headers (cheap casts; 400 on failure).
        const headers = parseRequestHeaders((name) => c.req.header(name));
        state.headers = headers;
        deadline.start(headers.timeout);
        // 2. Blacklist on unverified headers (map lookups only).
        const decision = blacklist.check(headers.dendrite.hotkey, metagraph.current());
        if (!decision.admitted) throw blacklisted(decision.reason);
        state.caller = decision.caller;
      } catch (error) {
        if (error instanceof ProtocolError && admission.failed(address)) return shed(c, "failures");
        throw error;
      }
      const headers = state.headers;
      const caller = state.caller;
      // 3. Pre-auth budget of the address, then the signature, nonce freshness and replay window, inside the deadline
      //    and in stake order (fast lane first). The pool path re-checks the nonce after the signature and records it
      //    in the same synchronous step, so racing replays still fail.
      if (!admission.beginPreAuth(address)) return shed(c, "pre_auth");
      const fast = admission.hasFastLane(address, caller.hotkey);
      const verification = deadline
        .during(
          "verify",
          verifyGate.run(fast ? FAST_LANE_PRIORITY + caller.stake : caller.stake, deadline.signal, () => {
            // Shed while it waited (its flood ran out of budget): spend no signature check on it.
            if (admission.isShed(address)) {
              overBudget = true;
              return Promise.reject(new ProtocolError(503, "Service busy: shed"));
            }
            return verify(headers);
          }),
        )
        .then(
          () => {
            verified = true;
            admission.authenticated(address, caller.hotkey);
          },
          (error: unknown) => {
            // A request left to time out in the signature queue, or turned away from it, is charged like a forged
            // one: otherwise a pile-up that never gets verified would never run out of budget.
            const chargeable =
              error instanceof ProtocolError ||
              error instanceof DeadlineExceededError ||
              error instanceof QueueFullError;
            if (!overBudget && chargeable && admission.failed(address)) overBudget = true;
            throw error;
          },
        )
        .finally(() => admission.endPreAuth(address));
      verification.catch(() => {}); // observed below, after the work it overlaps with
      if (!fast) await verification;
      // 4. Per-hotkey rate limit: after verification, or for the fast lane once its address proved to be this
      //    validator; refunded below unless the request is served.
      const rate = limiter.take(caller.hotkey);
      if (!rate.allowed) {
        await verification;
        const retry = Math.max(1, Math.ceil(rate.retryAfterS));
        return fail(
          c,
          state,
          429,
          `Too Many Requests: hotkey ${caller.hotkey} exceeded ${config.rateLimit.refillPerSecond} requests/s ` +
            `(burst ${config.rateLimit.burst}); retry after ${retry}s`,
          { "retry-after": String(retry) },
        );
      }
      charged = caller.hotkey;
      // 5-7. Body, body checks, pixel budget and scoring; beside the signature check on the fast lane. The answer waits
      //      for both, and a failed signature wins over anything the work found: a forged request never gets a
      //      prediction, nor learns what was wrong with its body.
      const work = scoreBody(c, deadline, headers, caller);
      const [auth, outcome] = await Promise.allSettled([verification, work]);
      if (auth.status === "rejected") throw auth.reason;
      if (outcome.status === "rejected") throw outcome.reason;
      const { body, image, scored } = outcome.value;
      const prediction = toWirePrediction(scored.score);
      const processTimeS = elapsedS(state);
      const response = successResponse({ body, prediction, processTimeS, axon: { hotkey: selfHotkey } });
      metrics.prediction();
      served = true;
      deps.capture?.offer(image, {
        requestId: state.id,
        receivedAt: state.receivedAtMs,
        score: scored.score,
        prediction,
        modelVersion: scored.modelVersion,
        callerHotkey: caller.hotkey,
        callerUid: caller.uid,
        testnetLabel: body.testnetLabel,
      });
      if (predictions.enabled) {
        const record = (imageSha256: string) => ({
          requestId: state.id,
          receivedAt: state.receivedAtMs,
          imageSha256,
          imageBytes: image.byteLength,
          score: scored.score,
          prediction,
          modelVersion: scored.modelVersion,
          cached: scored.cached,
          latencyMs: processTimeS * 1000,
          callerHotkey: caller.hotkey,
          callerUid: caller.uid,
          dendriteUuid: headers.dendrite.uuid,
        });
        // A challenge's hash is ready at once; a full-resolution frame's is hashed in slices after the answer.
        const sha = imageSha256(image);
        if (typeof sha === "string") predictions.dispatch(record(sha));
        else {
          sha.then(
            (hex) => predictions.dispatch(record(hex)),
            (error: unknown) => logger.error("prediction record lost", { requestId: state.id, error: String(error) }),
          );
        }
      }
      return send(c, response);
    } catch (error) {
      // The caller's own bad body is an answer it paid for; our deadline, queue, or a failed signature are not.
      served =
        verified &&
        (error instanceof ProtocolError || error instanceof BodyTooLargeError || error instanceof ImageInputError);
      if (deadline.clientGone) return failWith(c, state, new ClientGoneError());
      if (overBudget) return shed(c, "failures");
      return failWith(c, state, error);
    } finally {
      if (charged !== undefined && !served) limiter.refund(charged);
      deadline.dispose();
    }
  };

  /** Reads, checks and scores the body within the deadline; the image is charged to the pixel budget. */
  const scoreBody = async (c: Context, deadline: RequestDeadline, headers: RequestHeaders, caller: Caller) => {
    checkDeclaredLength(c.req.header("content-length"), config.bodyLimitBytes);
    const chunks = await deadline.during(
      "body",
      readBoundedBody(c.req.raw.body, config.bodyLimitBytes, deadline.signal),
    );
    const body = await parseBody(chunks, c.req.header("content-type"));
    checkBodyHash(headers.computedBodyHash, body);
    const image = await decodeImageFieldSliced(body);
    const pixels = pixelCost(image, config.pixels.maxPerImage, scorer);
    const score = () =>
      gate.run(caller.stake, deadline.signal, () => scorer.score(image, { signal: deadline.signal }), pixels);
    const large = image.byteLength >= config.queue.largeImageBytes;
    // Lowered before the decode, and again after it for the workers libvips started meanwhile.
    const scoreLarge = () => {
      decodePriority.apply();
      return score().finally(() => decodePriority.apply());
    };
    const scored = await deadline.during(
      "scoring",
      large ? largeLane.run(caller.stake, deadline.signal, scoreLarge) : score(),
    );
    return { body, image, scored };
  };

  const app = new Hono();
  // Metrics cover the synapse route only: pings and strangers' 404s would blur the latency a validator sees.
  app.use(`/${SYNAPSE_NAME}`, async (c, next) => {
    const started = performance.now();
    await next();
    if (!shedRequests.has(c.req.raw)) metrics.observe(c.res.status, (performance.now() - started) / 1000);
  });
  app.post(`/${SYNAPSE_NAME}`, handleImageSynapse);
  app.on(["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"], `/${SYNAPSE_NAME}`, (c) =>
    c.json({ message: `Method Not Allowed: send POST /${SYNAPSE_NAME}` }, 405, { allow: "POST" }),
  );
  // Ping: Python's axon serves /Synapse too. Ours needs no signature and reveals only what the chain already
  // publishes (this axon's hotkey), so `roadwork query` can learn whom to sign for.
  app.on(["GET", "POST"], "/Synapse", (c) =>
    c.json(
      {
        name: "Synapse",
        axon: { status_code: 200, status_message: "Success", hotkey: selfHotkey },
        model_version: scorer.modelVersion,
      },
      200,
      {
        bt_header_axon_status_code: "200",
        bt_header_axon_status_message: "Success",
        bt_header_axon_hotkey: selfHotkey,
      },
    ),
  );
  app.notFound((c) => {
    const segment = new URL(c.req.url).pathname.split("/")[1] ?? "";
    const known = (AVAILABLE_SYNAPSES as readonly string[]).includes(segment);
    const err = known ? new ProtocolError(404, "Not Found") : unknownSynapse(segment, AVAILABLE_SYNAPSES);
    return send(c, protocolErrorResponse(err, { axonHotkey: selfHotkey }));
  });
  app.onError((error, c) => {
    const ref = randomUUID();
    logger.error("unhandled error", { errorId: ref, error: `${error.name}: ${error.message}` });
    return send(c, errorResponse(500, `Internal Server Error #${ref}`, { axonHotkey: selfHotkey }));
  });

  const adminApp = new Hono();
  adminApp.get("/metrics", (c) =>
    c.text(metrics.render() + (deps.capture?.renderMetrics() ?? ""), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }),
  );
  adminApp.get("/healthz", (c) =>
    c.json({
      status: "ok",
      hotkey: selfHotkey,
      modelVersion: scorer.modelVersion,
      metagraphBlock: metagraph.current().block,
      queueDepth: gate.depth,
      active: gate.active,
    }),
  );

  return {
    app,
    adminApp,
    config,
    metrics,
    logger,
    gate,
    largeLane,
    verifyGate,
    admission,
    hotkey: selfHotkey,
    verification: deps.signatureVerifier ? "custom" : verification,
  };
}

/** The process-wide verifier pool, its workers started now so the first request does not wait for them. */
function startPool(logger: AxonLogger): SignatureVerifier {
  const pool = sharedSignatureVerifierPool();
  pool.start().catch((error: unknown) => {
    logger.error("signature verifier pool failed to start", { error: String(error) });
  });
  return pool;
}

/** Fast-lane signature checks sort above any stake. */
const FAST_LANE_PRIORITY = 1e15;

function socketOf(c: Context): Socket | undefined {
  return (c.env as Partial<HttpBindings> | undefined)?.incoming?.socket;
}

/** The client closed the connection; nobody will read the answer. */
class ClientGoneError extends Error {
  override readonly name = "ClientGoneError";
}

function peerOf(c: Context): { ip: string; port: number } | undefined {
  try {
    const info = getConnInfo(c);
    const ip = info.remote.address;
    const port = info.remote.port;
    if (ip === undefined || port === undefined) return undefined;
    return { ip: ip.startsWith("::ffff:") ? ip.slice(7) : ip, port };
  } catch {
    return undefined; // not running on @hono/node-server (app.request in unit tests)
  }
}
