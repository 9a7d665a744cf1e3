// A fetch wrapper for outside services (Hugging Face, NATIX): a per-attempt timeout and bounded retries with
// exponential backoff on 429, 5xx and network/timeout errors. Request bodies here are strings or Blobs, which can be
// re-sent as-is.

export type FetchFn = typeof fetch;

export interface RetryPolicy {
  /** Attempts in total, first one included. */
  attempts: number;
  /** First backoff; doubles each retry, with +-20% jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Abort one attempt after this long. */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8_000, timeoutMs: 30_000 };

export interface ResilientFetchOptions extends Partial<RetryPolicy> {
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (info: { url: string; attempt: number; reason: string; delayMs: number }) => void;
}

const sleepReal = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status <= 599);
}

/** The URL without query string (query strings can carry signed tokens). */
export function describeUrl(input: string | URL | Request): string {
  const raw = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  try {
    const u = new URL(raw);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "(invalid url)";
  }
}

export function resilientFetch(base: FetchFn, options: ResilientFetchOptions = {}): FetchFn {
  const policy = { ...DEFAULT_RETRY, ...options };
  const sleep = options.sleep ?? sleepReal;
  const wrapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    let lastError: unknown;
    for (let attempt = 1; attempt <= policy.attempts; attempt++) {
      // Uploads get extra time for their size (at least 1 MB/s), or a large ONNX file could never finish.
      const body = init?.body;
      const bytes = body instanceof Blob ? body.size : typeof body === "string" ? body.length : 0;
      const attemptMs = policy.timeoutMs + Math.ceil(bytes / 1000);
      const timeout = AbortSignal.timeout(attemptMs);
      const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
      let reason: string;
      let retryAfterMs: number | undefined;
      try {
        const res = await base(input, { ...init, signal });
        if (!isRetryableStatus(res.status) || attempt === policy.attempts) return res;
        reason = `HTTP ${res.status}`;
        retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
        await res.body?.cancel().catch(() => {});
      } catch (error) {
        if (init?.signal?.aborted) throw error; // the caller gave up: do not retry
        lastError = timeout.aborted
          ? new Error(`request to ${describeUrl(input)} timed out after ${attemptMs} ms`)
          : error;
        if (attempt === policy.attempts) break;
        reason = timeout.aborted ? "timeout" : `network error: ${(error as Error).message}`;
      }
      const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const delayMs = Math.min(policy.maxDelayMs, retryAfterMs ?? Math.round(backoff * (0.8 + Math.random() * 0.4)));
      options.onRetry?.({ url: describeUrl(input), attempt, reason, delayMs });
      await sleep(delayMs);
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  };
  return wrapped as FetchFn;
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
