// Puts an axon on the network: the public listener (Node settings chosen for aiohttp validators, behind the
// connection guard) and, when configured, a separate admin listener for /metrics. Graceful close drains in-flight
// requests before dropping connections.

import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createAdaptorServer, getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import type { Axon } from "./axon.ts";
import { ConnectionGuard } from "./connection-guard.ts";
import type { AxonLogger } from "./logger.ts";

export interface RunningAxon {
  /** Base URL a local client can use (loopback when bound to a wildcard address). */
  url: string;
  host: string;
  port: number;
  adminUrl: string | undefined;
  server: Server;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then drops what is left. */
  close(graceMs?: number): Promise<void>;
}

export async function startAxon(axon: Axon): Promise<RunningAxon> {
  const { config, logger } = axon;
  const s = config.server;
  const server = createServer({
    maxHeaderSize: s.maxHeaderBytes,
    // Node's own timeouts are backstops behind the guard's; check them every second rather than every 30.
    connectionsCheckingInterval: 1_000,
  });
  server.keepAliveTimeout = s.keepAliveTimeoutMs;
  server.headersTimeout = s.headersTimeoutMs;
  server.requestTimeout = s.requestTimeoutMs;
  const a = config.admission;
  const guard = new ConnectionGuard(axon.admission, {
    maxConnections: s.maxConnections,
    maxPipelined: a.maxPipelined,
    headersDeadlineMs: a.headersDeadlineMs,
    // The request deadline answers 408 first; this only catches a connection that somehow outlives it.
    requestHardLimitMs: config.maxTimeoutS * 1000 + a.headersDeadlineMs,
    idleTimeoutMs: s.keepAliveTimeoutMs,
    lingerMs: a.lingerMs,
  });
  guard.attach(server, getRequestListener(axon.app.fetch));
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    // Malformed HTTP never reaches hono; answer like Node's default handler, charge the address, and let the guard
    // destroy the socket once the answer had its chance to leave (or at once when nothing can be written).
    guard.failed(socket);
    if (!socket.writable) return socket.destroy();
    const status = error.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
    if (error.code === "ERR_HTTP_REQUEST_TIMEOUT")
      socket.end("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
    else socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  });

  const host = await listen(server, config.port, config.host, (m, f) => logger.warn(m, f));
  const port = (server.address() as AddressInfo).port;

  let admin: Server | undefined;
  let adminUrl: string | undefined;
  if (config.admin.port !== undefined) {
    admin = createAdaptorServer({ fetch: (axon.adminApp as Hono).fetch }) as Server;
    const adminHost = await listen(admin, config.admin.port, config.admin.host, (m, f) => logger.warn(m, f));
    adminUrl = `http://${urlHost(adminHost)}:${(admin.address() as AddressInfo).port}`;
  }

  const url = `http://${urlHost(host)}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    adminUrl,
    server,
    close(graceMs = 10_000) {
      closing ??= (async () => {
        await Promise.all([shutdown(server, graceMs), admin ? shutdown(admin, 1_000) : undefined]);
      })();
      return closing;
    },
  };
}

/** Listens on `host`; a dual-stack "::" falls back to 0.0.0.0 on hosts without IPv6. */
function listen(server: Server, port: number, host: string, warn: AxonLogger["warn"]): Promise<string> {
  const attempt = (h: string) =>
    new Promise<string>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      server.once("error", onError);
      server.listen(port, h, () => {
        server.off("error", onError);
        resolve(h);
      });
    });
  return attempt(host).catch((error: NodeJS.ErrnoException) => {
    if (host === "::" && (error.code === "EAFNOSUPPORT" || error.code === "EADDRNOTAVAIL")) {
      warn("IPv6 unavailable; listening on 0.0.0.0 only", { code: error.code });
      return attempt("0.0.0.0");
    }
    throw new Error(`cannot listen on ${host}:${port}: ${error.message}`);
  });
}

function urlHost(host: string): string {
  if (host === "::" || host === "0.0.0.0") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

function shutdown(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    // Keep-alive sockets become idle as their last response goes out; close each as soon as it does.
    const sweep = setInterval(() => server.closeIdleConnections(), 25);
    server.close(() => {
      clearTimeout(force);
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}
