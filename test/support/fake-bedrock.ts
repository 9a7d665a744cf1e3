// A loopback Amazon Bedrock: a real HTTP/2 cleartext server (HTTP/1.1 accepted on the same port) that the real AWS SDK clients
// reach through their `endpoint` option (or AWS_ENDPOINT_URL_BEDROCK_RUNTIME). Every request must carry a valid SigV4
// signature for the fake's credentials (checked by re-signing the received request), as Bedrock would demand.
// Routes are pluggable: Converse (`POST /model/<id>/converse`) is built in with scriptable answers; other operations
// (InvokeModel, GetFoundationModel, ...) are added with `route()` by the tests that need them.
import { createHash, randomUUID } from "node:crypto";
import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from "node:net";
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { z } from "zod";

export interface FakeRequest {
  method: string;
  /** The path as sent (still percent-encoded), without the query. */
  rawPath: string;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: Buffer;
  /** Named segments of the matched route, percent-decoded. */
  params: Record<string, string>;
  /** HTTP version the client spoke: "2.0" for the SDK's HTTP/2 handler, "1.1" otherwise. */
  httpVersion: string;
}

export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export type RouteHandler = (request: FakeRequest) => FakeResponse | Promise<FakeResponse>;

export interface RecordedRequest {
  method: string;
  path: string;
  httpVersion: string;
  status: number;
  /** The SigV4 credential scope's service, e.g. "bedrock". */
  signingService: string | undefined;
}

export interface FakeBedrockOptions {
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Reject unsigned or wrongly signed requests with 403 (default true). */
  requireSignature?: boolean;
}

/** JSON body in the shape of an AWS restJson1 error, with the `x-amzn-ErrorType` header the SDK reads the type from. */
export function awsError(status: number, type: string, message: string): FakeResponse {
  return {
    status,
    headers: {
      "content-type": "application/json",
      "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    },
    body: JSON.stringify({ message }),
  };
}

export function jsonResponse(value: unknown, status = 200): FakeResponse {
  return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(value) };
}

// ---- Converse ----------------------------------------------------------------------------------------------------

const ImageBlock = z.object({
  image: z.object({
    format: z.enum(["png", "jpeg", "gif", "webp"]),
    source: z.object({ bytes: z.string().min(1) }),
  }),
});
const TextBlock = z.object({ text: z.string() });
const ContentBlock = z.union([TextBlock, ImageBlock]);
/** The parts of the Converse request the fake understands; Bedrock answers 400 ValidationException for the rest. */
const ConverseRequestSchema = z.object({
  messages: z.array(z.object({ role: z.enum(["user", "assistant"]), content: z.array(ContentBlock).min(1) })).min(1),
  system: z.array(TextBlock).optional(),
  inferenceConfig: z
    .object({
      maxTokens: z.number().int().positive().optional(),
      temperature: z.number().min(0).max(1).optional(),
      topP: z.number().min(0).max(1).optional(),
      stopSequences: z.array(z.string()).optional(),
    })
    .optional(),
});

export interface ConverseCall {
  modelId: string;
  /** All text blocks of the conversation (system first), joined by newlines. */
  text: string;
  images: { format: string; bytes: Buffer; sha256: string }[];
  inferenceConfig: z.infer<typeof ConverseRequestSchema>["inferenceConfig"];
}

export type StopReason = "end_turn" | "max_tokens" | "stop_sequence" | "content_filtered" | "guardrail_intervened";
export type ConverseAnswer =
  | { kind: "text"; text: string; stopReason?: StopReason }
  | { kind: "error"; status: number; type: string; message: string };

/** Ready-made answers: what a vision-language model says, and how Bedrock fails. */
export const answers = {
  text: (text: string, stopReason: StopReason = "end_turn"): ConverseAnswer => ({ kind: "text", text, stopReason }),
  /** The strict JSON answer the teacher's prompt asks for. */
  label: (label: 0 | 1, confidence: number, reason = "looked at the image"): ConverseAnswer =>
    answers.text(JSON.stringify({ roadwork: label === 1, confidence, reason })),
  refusal: (): ConverseAnswer => answers.text("I'm sorry, but I can't help with analysing this image."),
  contentFiltered: (): ConverseAnswer => answers.text("", "content_filtered"),
  malformed: (): ConverseAnswer => answers.text('{"roadwork": "maybe", "confidence": 7'),
  throttled: (): ConverseAnswer => ({
    kind: "error",
    status: 429,
    type: "ThrottlingException",
    message: "Too many requests, please wait before trying again.",
  }),
  accessDenied: (): ConverseAnswer => ({
    kind: "error",
    status: 403,
    type: "AccessDeniedException",
    message: "You don't have access to the model with the specified model ID.",
  }),
} as const;

export type ConverseResponder = (call: ConverseCall) => ConverseAnswer | Promise<ConverseAnswer>;

/** Scripted Converse answers: queued ones first (in order), then the responder. */
export class ConverseScript {
  readonly calls: ConverseCall[] = [];
  #queue: ConverseAnswer[] = [];
  #responder: ConverseResponder = () => answers.refusal();

  /** Answers the next calls with these, in order. */
  reply(...next: ConverseAnswer[]): this {
    this.#queue.push(...next);
    return this;
  }

  /** Answers every call the queue does not cover (default: a refusal). */
  respond(responder: ConverseResponder): this {
    this.#responder = responder;
    return this;
  }

  async answer(call: ConverseCall): Promise<ConverseAnswer> {
    this.calls.push(call);
    return this.#queue.shift() ?? (await this.#responder(call));
  }
}

function magicMatches(format: string, bytes: Buffer): boolean {
  if (format === "jpeg") return bytes[0] === 0xff && bytes[1] === 0xd8;
  if (format === "png")
    return bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  if (format === "webp") return bytes.subarray(8, 12).toString("latin1") === "WEBP";
  if (format === "gif") return bytes.subarray(0, 3).toString("latin1") === "GIF";
  return false;
}

function converseRoute(script: ConverseScript): RouteHandler {
  return async (request) => {
    let json: unknown;
    try {
      json = JSON.parse(request.body.toString("utf8"));
    } catch {
      return awsError(400, "ValidationException", "Malformed input request, please reformat your input and try again.");
    }
    const parsed = ConverseRequestSchema.safeParse(json);
    if (!parsed.success) {
      return awsError(400, "ValidationException", `Malformed input request: ${z.prettifyError(parsed.error)}`);
    }
    const texts = [...(parsed.data.system ?? []).map((b) => b.text)];
    const images: ConverseCall["images"] = [];
    for (const message of parsed.data.messages) {
      for (const block of message.content) {
        if ("text" in block) texts.push(block.text);
        else {
          const bytes = Buffer.from(block.image.source.bytes, "base64");
          if (!magicMatches(block.image.format, bytes)) {
            return awsError(
              400,
              "ValidationException",
              `The provided image does not match format ${block.image.format}`,
            );
          }
          images.push({ format: block.image.format, bytes, sha256: createHash("sha256").update(bytes).digest("hex") });
        }
      }
    }
    const modelId = request.params.modelId ?? "";
    const answer = await script.answer({
      modelId,
      text: texts.join("\n"),
      images,
      inferenceConfig: parsed.data.inferenceConfig,
    });
    if (answer.kind === "error") return awsError(answer.status, answer.type, answer.message);
    const outputTokens = Math.max(1, Math.ceil(answer.text.length / 4));
    const inputTokens = Math.ceil(texts.join(" ").length / 4) + images.length * 1600;
    return jsonResponse({
      output: { message: { role: "assistant", content: answer.text === "" ? [] : [{ text: answer.text }] } },
      stopReason: answer.stopReason ?? "end_turn",
      usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
      metrics: { latencyMs: 42 },
    });
  };
}

// ---- the server --------------------------------------------------------------------------------------------------

interface Route {
  method: string;
  pattern: RegExp;
  handler: RouteHandler;
}

/** "/model/:modelId/converse" → a regex with one named group per ":name" segment. */
function compile(path: string): RegExp {
  const source = path
    .split("/")
    .map((segment) =>
      segment.startsWith(":") ? `(?<${segment.slice(1)}>[^/]+)` : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
    )
    .join("/");
  return new RegExp(`^${source}$`);
}

export class FakeBedrock {
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly requests: RecordedRequest[] = [];
  readonly converse = new ConverseScript();
  #routes: Route[] = [];
  #h2: Http2Server;
  #h1: ReturnType<typeof createHttp1Server>;
  #server: Server;
  #sockets = new Set<Socket>();
  #url = "";
  readonly #requireSignature: boolean;

  private constructor(options: FakeBedrockOptions) {
    this.region = options.region ?? "us-east-1";
    this.credentials = options.credentials ?? {
      accessKeyId: "AKIDFAKEBEDROCK",
      secretAccessKey: "fake-bedrock-secret",
    };
    this.#requireSignature = options.requireSignature ?? true;
    const handle = (req: Http2ServerRequest | IncomingMessage, res: Http2ServerResponse | ServerResponse) =>
      void this.#handle(req, res);
    this.#h2 = createServer(handle);
    this.#h1 = createHttp1Server(handle);
    // Node 20's cleartext HTTP/2 server does not fall back to HTTP/1.1 by itself: look at the first bytes and hand
    // the connection to the HTTP/2 server for the client preface ("PRI * HTTP/2.0"), else to HTTP/1.1.
    this.#server = createNetServer((socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
      socket.once("data", (first: Buffer) => {
        socket.pause();
        socket.unshift(first);
        (first.subarray(0, 3).toString("latin1") === "PRI" ? this.#h2 : this.#h1).emit("connection", socket);
        process.nextTick(() => socket.resume());
      });
    });
    this.route("POST", "/model/:modelId/converse", converseRoute(this.converse));
  }

  static async start(options: FakeBedrockOptions = {}): Promise<FakeBedrock> {
    const fake = new FakeBedrock(options);
    await new Promise<void>((resolve, reject) => {
      fake.#server.once("error", reject);
      fake.#server.listen(0, "127.0.0.1", () => resolve());
    });
    fake.#url = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  get url(): string {
    return this.#url;
  }

  /** What a BedrockRuntimeClient / BedrockClient needs to talk to this fake. */
  clientConfig(): {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  } {
    return { endpoint: this.#url, region: this.region, credentials: { ...this.credentials } };
  }

  /** Adds (or, for the same method and path, replaces) a route. Path segments starting with ":" are parameters. */
  route(method: string, path: string, handler: RouteHandler): this {
    const pattern = compile(path);
    this.#routes = this.#routes.filter((r) => !(r.method === method && r.pattern.source === pattern.source));
    this.#routes.push({ method: method.toUpperCase(), pattern, handler });
    return this;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      // Clients keep connections (HTTP/2 sessions, keep-alive sockets) open between calls; end them.
      for (const socket of this.#sockets) socket.destroy();
    });
  }

  async #handle(req: Http2ServerRequest | IncomingMessage, res: Http2ServerResponse | ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const url = new URL(path, "http://fake-bedrock");
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (name.startsWith(":") || value === undefined) continue;
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(",") : String(value);
    }
    const rawPath = path.split("?")[0] ?? "/";
    const signingService = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(headers.authorization ?? "")?.[1];
    let response: FakeResponse;
    try {
      const refusal = this.#requireSignature
        ? await this.#checkSignature(method, rawPath, url.searchParams, headers, body, req.headers[":authority"])
        : undefined;
      if (refusal) response = refusal;
      else {
        const matched = this.#match(method, rawPath);
        response = matched
          ? await matched.route.handler({
              method,
              rawPath,
              query: url.searchParams,
              headers,
              body,
              params: matched.params,
              httpVersion: req.httpVersion,
            })
          : awsError(404, "UnknownOperationException", `no route for ${method} ${rawPath} in the fake`);
      }
    } catch (error) {
      response = awsError(500, "InternalServerException", `fake route failed: ${(error as Error).message}`);
    }
    this.requests.push({
      method,
      path: rawPath,
      httpVersion: req.httpVersion,
      status: response.status,
      signingService,
    });
    res.writeHead(response.status, { "x-amzn-requestid": randomUUID(), ...response.headers });
    res.end(response.body ?? "");
  }

  #match(method: string, rawPath: string): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.#routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(rawPath);
      if (!m) continue;
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.groups ?? {})) params[k] = decodeURIComponent(v);
      return { route, params };
    }
    return undefined;
  }

  /** Re-signs the request as received with the fake's secret; any difference from the sent signature is a 403. */
  async #checkSignature(
    method: string,
    rawPath: string,
    query: URLSearchParams,
    headers: Record<string, string>,
    body: Buffer,
    authority: string | string[] | undefined,
  ): Promise<FakeResponse | undefined> {
    const auth = headers.authorization;
    const amzDate = headers["x-amz-date"];
    if (!auth || !amzDate) {
      return awsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
    }
    const m =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
        auth,
      );
    if (!m) return awsError(403, "IncompleteSignatureException", "Authorization header is not SigV4");
    const [, keyId, , region, service, signedHeaders] = m as unknown as string[];
    if (keyId !== this.credentials.accessKeyId) {
      return awsError(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
    }
    if (region !== this.region) {
      return awsError(
        403,
        "InvalidSignatureException",
        `Credential should be scoped to a valid region, not '${region}'`,
      );
    }
    const host = (Array.isArray(authority) ? authority[0] : authority) ?? headers.host ?? "";
    const signed: Record<string, string> = {};
    for (const name of (signedHeaders as string).split(";")) {
      // Over HTTP/2 the SDK signs the ":authority" pseudo-header; over HTTP/1.1, "host".
      signed[name] = name === "host" || name === ":authority" ? host : (headers[name] ?? "");
    }
    const signer = new SignatureV4({
      credentials: this.credentials,
      region: region as string,
      service: service as string,
      sha256: Hash.bind(null, "sha256"),
    });
    const queryRecord: Record<string, string> = {};
    for (const [k, v] of query) queryRecord[k] = v;
    const [hostname, port] = host.split(":");
    const resigned = await signer.sign(
      {
        method,
        protocol: "http:",
        hostname: hostname ?? "",
        ...(port ? { port: Number(port) } : {}),
        path: rawPath,
        query: queryRecord,
        headers: signed,
        body,
      },
      {
        signingDate: new Date(
          `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
        ),
        signableHeaders: new Set(Object.keys(signed)),
      },
    );
    const expected = (resigned.headers.authorization ?? resigned.headers.Authorization) as string | undefined;
    const sent = /Signature=([0-9a-f]{64})/.exec(auth)?.[1];
    const wanted = expected ? /Signature=([0-9a-f]{64})/.exec(expected)?.[1] : undefined;
    if (!sent || sent !== wanted) {
      return awsError(
        403,
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided.",
      );
    }
    return undefined;
  }
}
