import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { resilientFetch } from "../src/resilient-fetch.ts";

describe("resilientFetch", () => {
  let server: Server;
  let url = "";
  const script: { status: number; headers?: Record<string, string>; delayMs?: number }[] = [];
  let hits = 0;
  before(async () => {
    server = createServer(async (req, res) => {
      for await (const _ of req);
      hits++;
      const step = script.shift() ?? { status: 200 };
      if (step.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
      res.writeHead(step.status, step.headers ?? {});
      res.end("ok");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x?token=secret`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it("honours Retry-After on 429, backs off on 5xx, and returns the last answer when out of attempts", async () => {
    const delays: number[] = [];
    const f = resilientFetch(fetch, { attempts: 3, baseDelayMs: 10, sleep: async (ms) => void delays.push(ms) });
    script.push({ status: 429, headers: { "retry-after": "2" } }, { status: 503 }, { status: 200 });
    assert.equal((await f(url)).status, 200);
    assert.equal(delays[0], 2000);
    assert.ok(delays[1]! >= 16 && delays[1]! <= 24);
    script.push({ status: 500 }, { status: 500 }, { status: 502 });
    assert.equal((await f(url)).status, 502);
    script.push({ status: 404 });
    hits = 0;
    assert.equal((await f(url)).status, 404);
    assert.equal(hits, 1, "4xx is not retried");
  });

  it("times out one attempt, retries, and gives uploads time for their size", async () => {
    const reasons: string[] = [];
    const f = resilientFetch(fetch, {
      attempts: 2,
      baseDelayMs: 1,
      timeoutMs: 300,
      onRetry: (i) => reasons.push(i.reason),
    });
    script.push({ status: 200, delayMs: 1200 }, { status: 200 });
    assert.equal((await f(url)).status, 200);
    assert.deepEqual(reasons, ["timeout"]);
    // 1 MB at >= 1 MB/s adds 1 s to the 300 ms budget: a 700 ms answer is not a timeout.
    script.push({ status: 200, delayMs: 700 });
    reasons.length = 0;
    assert.equal((await f(url, { method: "PUT", body: new Blob([new Uint8Array(1_000_000)]) })).status, 200);
    assert.deepEqual(reasons, []);
    script.push({ status: 200, delayMs: 1200 }, { status: 200, delayMs: 1200 });
    await assert.rejects(
      f(url),
      (e: Error) => /timed out after 300 ms/.test(e.message) && !e.message.includes("secret"),
    );
  });
});
