// NATIX economy registration, as natix `register.sh` does it (spec §6): sign the unix-seconds timestamp with the
// hotkey, POST it, then poll the registration status until it settles or the deadline passes.
import { u8aToHex } from "@polkadot/util";
import { z } from "zod";
import type { HotkeySigner } from "./hotkey.ts";
import { describeUrl, type FetchFn, isRetryableStatus } from "./resilient-fetch.ts";

export const DEFAULT_NATIX_BASE_URL = "https://hydra.natix.network";

export const HfRepoId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/, 'repo must be "org/name"');

export interface RegistrationRequestBody {
  uid: string;
  message: string;
  natix_public_key: string;
  natix_signature: string;
  type: "miner";
  model_repo: string;
}

/** The exact body register.sh sends for a miner: every value a JSON string, uid included. */
export function buildRegistrationRequest(opts: {
  uid: number;
  repo: string;
  hotkey: HotkeySigner;
  now: Date;
}): RegistrationRequestBody {
  if (!Number.isInteger(opts.uid) || opts.uid < 0 || opts.uid > 65535) throw new Error(`invalid uid ${opts.uid}`);
  const message = String(Math.floor(opts.now.getTime() / 1000));
  // btcli signs message.encode("utf-8") with no <Bytes> wrapper; hex without 0x.
  const signature = u8aToHex(opts.hotkey.sign(new TextEncoder().encode(message))).slice(2);
  return {
    uid: String(opts.uid),
    message,
    natix_public_key: opts.hotkey.address,
    natix_signature: signature,
    type: "miner",
    model_repo: HfRepoId.parse(opts.repo),
  };
}

export type RegistrationOutcome =
  | { status: "succeeded"; uid: number; submittedAt: number; polls: number; detail?: string }
  | { status: "failed"; uid: number; submittedAt: number; polls: number; errorMessage: string; detail?: string };

export class NatixRegistrationError extends Error {
  constructor(
    message: string,
    readonly kind: "rejected" | "failed" | "timeout" | "unavailable" | "bad_response",
  ) {
    super(message);
    this.name = "NatixRegistrationError";
  }
}

export interface RegisterOptions {
  uid: number;
  repo: string;
  hotkey: HotkeySigner;
  fetch: FetchFn;
  baseUrl?: string;
  pollIntervalMs?: number;
  /** Total time allowed for polling after the POST. */
  deadlineMs?: number;
  /** POST attempts on 5xx/429/network errors. */
  postAttempts?: number;
  /** Per-request timeout (a hung server must not outlive the deadline). */
  requestTimeoutMs?: number;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  log?: (event: string, data: Record<string, unknown>) => void;
}

const StatusBody = z.looseObject({
  status: z.string().nullish(),
  error_message: z.string().nullish(),
  detail: z.unknown().optional(),
});

const DONE = new Set(["succeeded", "success"]);
const FAILED = new Set(["failed", "error"]);
const WAITING = new Set(["pending", "queued", "processing", ""]);

/**
 * Registers and waits. A "failed" status is returned (not thrown) with NATIX's error_message; transport problems,
 * a rejected POST and the deadline throw NatixRegistrationError.
 */
export async function registerWithNatix(opts: RegisterOptions): Promise<RegistrationOutcome> {
  const baseUrl = (opts.baseUrl ?? DEFAULT_NATIX_BASE_URL).replace(/\/+$/, "");
  const now = opts.now ?? (() => new Date());
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const log = opts.log ?? (() => {});
  const pollIntervalMs = opts.pollIntervalMs ?? 3_000;
  const deadlineMs = opts.deadlineMs ?? 180_000;
  const postAttempts = opts.postAttempts ?? 3;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;

  const body = buildRegistrationRequest({ uid: opts.uid, repo: opts.repo, hotkey: opts.hotkey, now: now() });
  const submittedAt = Number(body.message);
  const registerUrl = `${baseUrl}/participants/register`;

  let detail: string | undefined;
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await opts.fetch(registerUrl, {
        method: "POST",
        signal: AbortSignal.timeout(requestTimeoutMs),
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(body),
      });
    } catch (error) {
      if (attempt >= postAttempts) {
        throw new NatixRegistrationError(
          `NATIX is unreachable at ${describeUrl(registerUrl)}: ${(error as Error).message}`,
          "unavailable",
        );
      }
      await sleep(pollIntervalMs * attempt);
      continue;
    }
    const text = await res.text();
    detail = readDetail(text);
    if (res.ok) break;
    if (isRetryableStatus(res.status) && attempt < postAttempts) {
      log("natix.register.retry", { status: res.status, attempt });
      await sleep(pollIntervalMs * attempt);
      continue;
    }
    const kind = isRetryableStatus(res.status) ? "unavailable" : "rejected";
    throw new NatixRegistrationError(
      `NATIX rejected the registration (HTTP ${res.status})${detail ? `: ${detail}` : ""}. ` +
        (kind === "rejected"
          ? "Check the uid, that the hotkey is registered on the subnet, and that the repo is public."
          : "Try again later."),
      kind,
    );
  }
  log("natix.register.submitted", { uid: opts.uid, repo: body.model_repo, detail });

  const statusUrl = `${baseUrl}/participants/registration-status/${opts.uid}`;
  const started = now().getTime();
  let polls = 0;
  let lastSeen = "(none)";
  let errorStreak = 0;
  for (;;) {
    polls++;
    let status: string | undefined;
    let errorMessage: string | undefined;
    try {
      const remaining = Math.max(1, deadlineMs - (now().getTime() - started));
      const res = await opts.fetch(statusUrl, {
        headers: { accept: "application/json" },
        // Up to the deadline, but never so short that a healthy answer is cut off.
        signal: AbortSignal.timeout(Math.min(requestTimeoutMs, Math.max(remaining, 1_000))),
      });
      const text = await res.text();
      if (!res.ok) {
        lastSeen = `HTTP ${res.status}`;
        log("natix.status.http_error", { status: res.status, polls });
      } else {
        const parsed = StatusBody.safeParse(safeJson(text));
        if (!parsed.success) {
          lastSeen = "malformed response";
          log("natix.status.malformed", { polls, bytes: text.length });
        } else {
          status = (parsed.data.status ?? "").trim().toLowerCase();
          errorMessage = parsed.data.error_message ?? undefined;
          lastSeen = status || "(empty)";
        }
      }
    } catch (error) {
      lastSeen = `network error: ${(error as Error).message}`;
      log("natix.status.network_error", { polls, message: (error as Error).message });
    }
    errorStreak = status === undefined ? errorStreak + 1 : 0;
    if (status !== undefined) {
      if (DONE.has(status)) return { status: "succeeded", uid: opts.uid, submittedAt, polls, detail };
      if (FAILED.has(status)) {
        return {
          status: "failed",
          uid: opts.uid,
          submittedAt,
          polls,
          errorMessage: errorMessage || "NATIX reported failure without an error_message",
          detail,
        };
      }
      if (!WAITING.has(status)) log("natix.status.unknown", { status, polls });
    }
    // Plain waiting polls at the register.sh interval; errors back off (x2 each, at most x8).
    const delay = pollIntervalMs * 2 ** Math.min(errorStreak, 3);
    if (now().getTime() - started + delay > deadlineMs) {
      throw new NatixRegistrationError(
        `NATIX registration for uid ${opts.uid} did not settle within ${Math.round(deadlineMs / 1000)} s ` +
          `(last status: ${lastSeen}). Check later with 'roadwork register --status --uid ${opts.uid}'.`,
        "timeout",
      );
    }
    await sleep(delay);
  }
}

/** One status read, for operators (`roadwork register --status`). */
export async function fetchRegistrationStatus(opts: {
  uid: number;
  fetch: FetchFn;
  baseUrl?: string;
}): Promise<{ status: string; errorMessage?: string }> {
  const baseUrl = (opts.baseUrl ?? DEFAULT_NATIX_BASE_URL).replace(/\/+$/, "");
  const res = await opts.fetch(`${baseUrl}/participants/registration-status/${opts.uid}`, {
    headers: { accept: "application/json" },
  });
  const text = await res.text();
  if (!res.ok) throw new NatixRegistrationError(`NATIX status check failed: HTTP ${res.status}`, "unavailable");
  const parsed = StatusBody.safeParse(safeJson(text));
  if (!parsed.success) throw new NatixRegistrationError("NATIX returned a malformed status response", "bad_response");
  return { status: parsed.data.status ?? "", errorMessage: parsed.data.error_message ?? undefined };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function readDetail(text: string): string | undefined {
  const json = safeJson(text) as { detail?: unknown } | undefined;
  const d = json && typeof json === "object" ? json.detail : undefined;
  if (d === undefined || d === null) return undefined;
  return (typeof d === "string" ? d : JSON.stringify(d)).slice(0, 500);
}
