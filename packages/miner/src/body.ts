// Reads a request body without ever holding more than the cap: the declared content-length is checked first, then
// every received chunk is counted, so a lying or chunked sender is cut off as soon as it crosses the limit.

export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
  constructor(readonly limitBytes: number) {
    super(`Payload Too Large: request body exceeds ${limitBytes} bytes`);
  }
}

export class BodyAbortedError extends Error {
  override readonly name = "BodyAbortedError";
}

/** Throws BodyTooLargeError when a declared content-length is over the cap (before any byte is read). */
export function checkDeclaredLength(contentLength: string | null | undefined, limitBytes: number): void {
  if (contentLength == null || contentLength === "") return;
  if (/^\d+$/.test(contentLength.trim()) && Number(contentLength.trim()) > limitBytes) {
    throw new BodyTooLargeError(limitBytes);
  }
}

/**
 * Reads `stream` into the chunks it arrived in, doing nothing else per chunk: the body is parsed from its bytes
 * afterwards (parseSynapseBodyBytes), so an 8 MiB frame never becomes one 8 MiB string, whose flattening and parsing
 * would hold the event loop for tens of milliseconds that every other validator's request waits out. Rejects with
 * BodyTooLargeError past `limitBytes`, or with `signal.reason` when the signal aborts (deadline, client gone); the
 * stream is cancelled in both cases.
 */
export async function readBoundedBody(
  stream: ReadableStream<Uint8Array> | null,
  limitBytes: number,
  signal: AbortSignal,
): Promise<Uint8Array[]> {
  if (!stream) return [];
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason ?? new BodyAbortedError("request body read aborted"));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {}); // observed below through Promise.race; never left unhandled
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), aborted]);
      if (done) break;
      total += value.byteLength;
      if (total > limitBytes) throw new BodyTooLargeError(limitBytes);
      chunks.push(value);
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    if (error instanceof BodyTooLargeError || signal.aborted) throw error;
    throw new BodyAbortedError(`request body read failed: ${(error as Error).message}`);
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
  return chunks;
}
