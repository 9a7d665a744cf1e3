// The sha256 of a challenge image (the engine's result-cache key, the prediction record's id): a full-resolution frame
// (up to ~6 MB) hashed in one call holds the event loop 3-20 ms on a small host, which every other validator's
// request would wait out; here it is hashed in slices with the loop let through between them.
import { createHash } from "node:crypto";

/** Bytes hashed between two turns of the event loop. */
export const HASH_SLICE_BYTES = 512 * 1024;

/** Hex sha256 of `bytes`: at once when they fit one slice, otherwise slice by slice. */
export function imageSha256(bytes: Uint8Array, sliceBytes: number = HASH_SLICE_BYTES): string | Promise<string> {
  if (bytes.byteLength <= sliceBytes) return createHash("sha256").update(bytes).digest("hex");
  return (async () => {
    const hash = createHash("sha256");
    for (let at = 0; at < bytes.byteLength; at += sliceBytes) {
      hash.update(bytes.subarray(at, at + sliceBytes));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return hash.digest("hex");
  })();
}
