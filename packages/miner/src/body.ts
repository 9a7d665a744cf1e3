// Reads a request body without ever holding more than the cap: the declared content-length is checked first, then
// every received chunk is counted, so a lying or chunked sender is cut off as soon as it crosses the limit. A large body
// is read and parsed in slices, with other requests let through between them.
import { type ParsedSynapseBody, parseSynapseBodyBytes } from "@roadwork/protocol";

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
 * Bytes read from one body between two turns of the event loop. A reader that keeps up is handed every chunk the
 * socket has (libuv reads up to 32 × 64 KiB per wake-up, each copied into a fresh buffer): 2 MiB of a 7.9 MiB body in one
 * turn held the loop 30-70 ms on a 2-core host whose first touch of new memory is slow. Pausing after each slice lets
 * the stream's backpressure stop the socket instead, so other requests run between slices (longest turn ≤ ~13 ms).
 */
export const BODY_SLICE_BYTES = 128 * 1024;

/**
 * Reads `stream` into the chunks it arrived in, doing nothing else per chunk: the body is parsed from its bytes
 * afterwards (parseSynapseBodyBytes), so an 8 MiB frame never becomes one 8 MiB string, whose flattening and parsing
 * would hold the event loop for tens of milliseconds that every other validator's request waits out. The event loop is
 * let through after every `sliceBytes` (BODY_SLICE_BYTES); a body smaller than that is read without a pause. Rejects
 * with BodyTooLargeError past `limitBytes`, or with `signal.reason` when the signal aborts (deadline, client gone);
 * the stream is cancelled in both cases.
 */
export async function readBoundedBody(
  stream: ReadableStream<Uint8Array> | null,
  limitBytes: number,
  signal: AbortSignal,
  sliceBytes: number = BODY_SLICE_BYTES,
): Promise<Uint8Array[]> {
  if (!stream) return [];
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let sinceYield = 0;
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
      sinceYield += value.byteLength;
      if (sinceYield >= sliceBytes) {
        sinceYield = 0;
        await Promise.race([new Promise<void>((resolve) => setImmediate(resolve)), aborted]);
      }
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

/**
 * The received body parsed (parseSynapseBodyBytes), a large image's base64 decoded in the same slices the body was
 * read in: the decoded image lands in new memory, and each slice's first touch of it held the loop 5-48 ms at 512 KiB
 * (protocol's default) against 1-17 ms at 128 KiB, measured on an 8 MiB body.
 */
export function parseBody(chunks: readonly Uint8Array[], contentType: string | undefined): Promise<ParsedSynapseBody> {
  return parseSynapseBodyBytes(chunks, contentType, BODY_SLICE_BYTES);
}
