// How a batch of rows is cut into onnxruntime runs. A model with a fixed N runs in chunks of N; with batch buckets
// (GPU), every run is padded up to the smallest bucket that holds it, so a session only ever sees a few input
// shapes (onnxruntime-node's CUDA provider redoes its cuDNN algorithm search when the shape it sees changes).

export interface RunChunk {
  /** First real row of the chunk. */
  start: number;
  /** Real rows in the chunk; rows past `count` are zero padding whose results are discarded. */
  count: number;
  /** Rows actually run (count plus padding). */
  rows: number;
}

/** Sorted, distinct, positive integer bucket sizes; throws on anything else. */
export function normalizeBuckets(buckets: readonly number[]): number[] {
  for (const b of buckets) {
    if (!Number.isInteger(b) || b < 1) throw new RangeError(`batch buckets must be positive integers, got ${b}`);
  }
  const sorted = [...new Set(buckets)].sort((a, b) => a - b);
  if (sorted.length === 0) throw new RangeError("batch buckets must not be empty");
  return sorted;
}

/** Cuts `n` rows into runs: fixed-size chunks, bucket-padded chunks, or one run of exactly `n`. */
export function planRuns(
  n: number,
  fixedBatch: number | undefined,
  buckets: readonly number[] | undefined,
): RunChunk[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`row count must be a non-negative integer, got ${n}`);
  if (n === 0) return [];
  if (fixedBatch !== undefined) {
    const chunks: RunChunk[] = [];
    for (let start = 0; start < n; start += fixedBatch) {
      chunks.push({ start, count: Math.min(fixedBatch, n - start), rows: fixedBatch });
    }
    return chunks;
  }
  if (!buckets || buckets.length === 0) return [{ start: 0, count: n, rows: n }];
  const largest = buckets[buckets.length - 1] as number;
  const chunks: RunChunk[] = [];
  for (let start = 0; start < n; start += largest) {
    const count = Math.min(largest, n - start);
    const rows = buckets.find((b) => b >= count) ?? largest;
    chunks.push({ start, count, rows });
  }
  return chunks;
}
