// A loopback NATIX registration service with the register.sh contract (spec §6). It verifies the sr25519 signature
// over the UTF-8 timestamp server-side and replays a scripted sequence of status responses.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { hexToU8a } from "@polkadot/util";
import { cryptoWaitReady, decodeAddress, sr25519Verify } from "@polkadot/util-crypto";

/** One scripted reply of the status endpoint; the last one repeats. */
export type StatusReply = { status?: number; body: string } | { status: string; error_message?: string };

export interface Registration {
  uid: string;
  message: string;
  natix_public_key: string;
  natix_signature: string;
  type: string;
  model_repo: string;
}

export class FakeNatix {
  readonly registrations: Registration[] = [];
  readonly rejected: string[] = [];
  statusScript: StatusReply[] = [{ status: "pending" }, { status: "succeeded" }];
  /** Replies for the POST before the real handling, consumed in order (e.g. a 503). */
  registerFaults: { status: number; body: string }[] = [];
  statusPolls = 0;
  /** Delay before answering a status poll (a hung service). */
  statusDelayMs = 0;
  /** Maximum accepted age of the signed timestamp, seconds (the real value is unknown, spec §9). */
  maxSkewSeconds = 300;
  now: () => number = () => Date.now() / 1000;
  private server: Server | undefined;
  url = "";

  async start(): Promise<this> {
    await cryptoWaitReady();
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ detail: String(e) }));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf-8");
    const path = new URL(req.url ?? "/", this.url).pathname;

    if (req.method === "POST" && path === "/participants/register") {
      const fault = this.registerFaults.shift();
      if (fault) return send(res, fault.status, fault.body);
      const reason = this.validate(req, body);
      if (reason) {
        this.rejected.push(reason);
        return send(res, 400, JSON.stringify({ detail: reason }));
      }
      this.registrations.push(JSON.parse(body) as Registration);
      return send(res, 200, JSON.stringify({ detail: "Registration submitted" }));
    }

    const m = path.match(/^\/participants\/registration-status\/(\d+)$/);
    if (req.method === "GET" && m) {
      this.statusPolls++;
      // A hang ends early when the client gives up, so a long hang leaves no timer behind the test.
      if (this.statusDelayMs)
        await new Promise<void>((r) => {
          const timer = setTimeout(r, this.statusDelayMs);
          res.once("close", () => {
            clearTimeout(timer);
            r();
          });
        });
      if (res.destroyed) return;
      if (!this.registrations.some((r) => r.uid === m[1]))
        return send(res, 404, JSON.stringify({ detail: "Not found" }));
      const reply = this.statusScript.length > 1 ? this.statusScript.shift()! : this.statusScript[0]!;
      if ("body" in reply) return send(res, reply.status ?? 200, reply.body);
      return send(res, 200, JSON.stringify({ uid: m[1], ...reply }));
    }
    send(res, 404, JSON.stringify({ detail: "Not Found" }));
  }

  /** Returns why the request is invalid, or undefined. */
  private validate(req: IncomingMessage, body: string): string | undefined {
    if (!String(req.headers["content-type"]).startsWith("application/json")) return "content-type must be JSON";
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return "body is not JSON";
    }
    const keys = ["uid", "message", "natix_public_key", "natix_signature", "type", "model_repo"];
    for (const k of keys) if (typeof p[k] !== "string") return `${k} must be a string`;
    if (Object.keys(p).length !== keys.length) return "unexpected fields";
    if (p.type !== "miner") return "type must be miner";
    if (!/^\d+$/.test(p.uid as string)) return "uid must be a decimal string";
    if (!/^\d{10}$/.test(p.message as string)) return "message must be a unix-seconds timestamp";
    if (Math.abs(this.now() - Number(p.message)) > this.maxSkewSeconds) return "timestamp too old";
    if (!/^[0-9a-f]{128}$/.test(p.natix_signature as string)) return "signature must be 128 lowercase hex without 0x";
    let ok = false;
    try {
      ok = sr25519Verify(
        new TextEncoder().encode(p.message as string),
        hexToU8a(`0x${p.natix_signature}`),
        decodeAddress(p.natix_public_key as string),
      );
    } catch {
      ok = false;
    }
    return ok ? undefined : "invalid signature";
  }
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(body);
}
