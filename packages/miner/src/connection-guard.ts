// Connection-level defences of the public listener, applied before hono sees a request: per-address and total
// connection budgets at accept, a cap on pipelined requests per connection, and absolute deadlines that trickling
// cannot stretch (headers within `headersDeadlineMs` of their first byte, a whole request within `requestHardLimitMs`
// of its headers, an idle keep-alive connection within `idleTimeoutMs`). Whatever breaks a rule is destroyed, never
// just end()ed: an ended socket whose peer stops reading lingers and keeps counting against the limits.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { type AddressAdmission, addressKey, type ShedReason } from "./admission.ts";

export interface ConnectionLimits {
  /** Open connections in total; addresses in the validator fast lane are let in beyond it. */
  maxConnections: number;
  /** Requests in flight on one connection (HTTP/1.1 pipelining); aiohttp never sends more than one. */
  maxPipelined: number;
  /** From the first byte of a request to its last header byte. */
  headersDeadlineMs: number;
  /** From a request's complete headers to the end of its response: a backstop behind the request deadline. */
  requestHardLimitMs: number;
  /** A connection with nothing in flight and no byte received is closed after this. */
  idleTimeoutMs: number;
  /** After we end a connection, the peer has this long to take the last response before it is destroyed. */
  lingerMs: number;
}

interface ConnectionState {
  address: string;
  inFlight: number;
  idleSinceMs: number;
  bytesAtIdle: number;
  firstByteAt: number | undefined;
  lastRequest: IncomingMessage | undefined;
  lastRequestAt: number;
  endedAt: number | undefined;
  requestStarts: number[];
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** The parts of Node's listening TCP handle (net.Server's `_handle`) that see a connection before any Socket exists. */
interface ListenHandle {
  onconnection?: (this: ListenHandle, error: number, client?: AcceptedHandle) => void;
}
interface AcceptedHandle {
  getpeername?: (out: { address?: string }) => number;
  close(): void;
}

const SWEEP_MS = 250;

export class ConnectionGuard {
  readonly #states = new Map<Socket, ConnectionState>();
  readonly #admission: AddressAdmission;
  readonly #limits: ConnectionLimits;
  readonly #now: () => number;
  #sweep: NodeJS.Timeout | undefined;

  constructor(admission: AddressAdmission, limits: ConnectionLimits, nowMs: () => number = () => performance.now()) {
    this.#admission = admission;
    this.#limits = limits;
    this.#now = nowMs;
  }

  get open(): number {
    return this.#states.size;
  }

  /** Hooks `server`'s connections; `listener` (hono's) only ever sees requests the guard lets through. */
  attach(server: Server, listener: Listener): void {
    // Run before Node's HTTP connection listener, and only hand it the sockets we keep: a refused connection then costs
    // an accept and a close, not an HTTP parser set up for nothing (what a flood of reconnects would make us pay).
    const http = server.listeners("connection") as ((socket: Socket) => void)[];
    server.removeAllListeners("connection");
    server.on("connection", (socket: Socket) => {
      if (this.#onConnection(socket)) for (const l of http) l.call(server, socket);
    });
    server.on("request", (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res, listener));
    if (server.listening) this.#refuseAtAccept(server);
    else server.once("listening", () => this.#refuseAtAccept(server));
    this.#sweep = setInterval(() => this.#sweepOnce(), SWEEP_MS);
    this.#sweep.unref();
    server.once("close", () => this.stop());
  }

  stop(): void {
    clearInterval(this.#sweep);
  }

  /** Charges the address of `socket` one failure (broken framing seen by the HTTP parser). */
  failed(socket: Socket): void {
    const state = this.#states.get(socket);
    if (state) this.#admission.failed(state.address);
  }

  /** Closes `socket` at once (abuse, broken rules). */
  kill(socket: Socket, reason: ShedReason, chargeFailure: boolean): void {
    const state = this.#states.get(socket);
    this.#admission.noteShed(reason);
    if (chargeFailure && state) this.#admission.failed(state.address);
    socket.destroy();
  }

  /**
   * Refuses at the listening handle, before Node builds a Socket (a duplex stream and its state) only to destroy it: a
   * reconnect flood (600 sockets from one address, each refused and reopened at once) arrives in bursts of hundreds
   * of accepts handled in one turn of the event loop, and the Socket for each refused one was most of that turn. Node
   * calls the handle's `onconnection(error, clientHandle)` for every accept (net.Server's own `maxConnections` check
   * closes the client handle there too); where a Node version lacks it, refusal stays in the 'connection' listener.
   */
  #refuseAtAccept(server: Server): void {
    const handle = (server as unknown as { _handle?: ListenHandle | null })._handle;
    const accept = handle?.onconnection;
    if (!handle || typeof accept !== "function") return;
    const admission = this.#admission;
    const maxTotal = this.#limits.maxConnections;
    handle.onconnection = function (this: ListenHandle, error, client) {
      if (!error && client && typeof client.getpeername === "function") {
        const peer: { address?: string } = {};
        if (client.getpeername(peer) === 0) {
          const refused = admission.refusal(addressKey(peer.address), maxTotal);
          if (refused) {
            admission.noteShed(refused);
            client.close();
            return;
          }
        }
      }
      accept.call(this, error, client);
    };
  }

  #onConnection(socket: Socket): boolean {
    const address = addressKey(socket.remoteAddress);
    const refused = this.#admission.connect(address, this.#limits.maxConnections);
    if (refused) {
      socket.destroy();
      return false;
    }
    const now = this.#now();
    this.#states.set(socket, {
      address,
      inFlight: 0,
      idleSinceMs: now,
      bytesAtIdle: 0,
      firstByteAt: undefined,
      lastRequest: undefined,
      lastRequestAt: now,
      endedAt: undefined,
      requestStarts: [],
    });
    socket.once("close", () => {
      this.#states.delete(socket);
      this.#admission.disconnect(address);
    });
    return true;
  }

  #onRequest(req: IncomingMessage, res: ServerResponse, listener: Listener): void {
    const socket = req.socket;
    const state = this.#states.get(socket);
    if (!state || socket.destroyed) {
      // Parsed from a connection already refused or killed (pipelined bytes in the same read): nobody will answer.
      if (!socket.destroyed) socket.destroy();
      return;
    }
    if (state.inFlight >= this.#limits.maxPipelined) {
      this.kill(socket, "pipelining", true);
      return;
    }
    const now = this.#now();
    state.inFlight++;
    state.requestStarts.push(now);
    state.firstByteAt = undefined;
    state.lastRequest = req;
    state.lastRequestAt = now;
    res.once("close", () => {
      state.inFlight--;
      state.requestStarts.shift();
      if (state.inFlight === 0) {
        state.idleSinceMs = this.#now();
        state.bytesAtIdle = socket.bytesRead;
      }
    });
    listener(req, res);
  }

  #sweepOnce(): void {
    const now = this.#now();
    const l = this.#limits;
    for (const [socket, state] of this.#states) {
      if (socket.destroyed) continue;
      if (socket.writableEnded) {
        // We said goodbye (Connection: close, an error answer): the peer gets `lingerMs` to read it, then the socket
        // goes, whether or not the peer ever closes its side.
        state.endedAt ??= now;
        if (now - state.endedAt > l.lingerMs) socket.destroy();
        continue;
      }
      if (state.inFlight > 0) {
        const oldest = state.requestStarts[0] ?? now;
        if (now - oldest > l.requestHardLimitMs) this.kill(socket, "request_deadline", true);
        continue;
      }
      // Idle between requests. Bytes still arriving for the last request (a body the handler did not read, which Node
      // discards) are not the start of a new one.
      if (state.lastRequest && !state.lastRequest.complete) {
        if (now - state.lastRequestAt > l.requestHardLimitMs) {
          this.kill(socket, "request_deadline", true);
          continue;
        }
        state.bytesAtIdle = socket.bytesRead;
        state.idleSinceMs = now;
        continue;
      }
      if (state.firstByteAt === undefined && socket.bytesRead > state.bytesAtIdle) state.firstByteAt = now;
      if (state.firstByteAt !== undefined) {
        if (now - state.firstByteAt > l.headersDeadlineMs) this.kill(socket, "header_deadline", true);
      } else if (now - state.idleSinceMs > l.idleTimeoutMs) {
        socket.destroy();
      }
    }
  }
}
