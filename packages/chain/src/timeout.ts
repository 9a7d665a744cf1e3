// Every chain request is bounded: a stalled node must surface as a clear error, not a hung miner.

export class ChainTimeoutError extends Error {
  constructor(
    readonly label: string,
    readonly timeoutMs: number,
  ) {
    super(`${label}: no answer from the chain within ${timeoutMs / 1000}s (node slow, overloaded or unreachable)`);
    this.name = "ChainTimeoutError";
  }
}

export const DEFAULT_CALL_TIMEOUT_MS = 20_000;

export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ChainTimeoutError(label, timeoutMs)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
