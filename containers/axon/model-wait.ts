// A stage is deployed before its first model exists (docs/deploy.md): instead of exiting (and having ECS roll the
// deployment back), the axon waits, alive but not listening, and says in its log what it waits for.
import type { AxonLogger } from "@roadwork/miner";

export async function openWhenAvailable<T>(
  open: () => Promise<T>,
  options: { source: string; retryMs: number; logger: AxonLogger; signal?: AbortSignal },
): Promise<T> {
  let attempt = 0;
  for (;;) {
    try {
      const opened = await open();
      if (attempt > 0) options.logger.info("model available; starting to serve", { source: options.source });
      return opened;
    } catch (error) {
      if (options.signal?.aborted) throw error;
      // Every failure is logged: a missing pointer and a broken bundle both keep the axon silent.
      options.logger.warn(
        "waiting for a model: the axon starts answering once it loads. Upload a bundle and write the pointer " +
          "(docs/deploy.md, 'First model')",
        {
          source: options.source,
          attempt: ++attempt,
          reason: (error as Error).message,
          retryInS: options.retryMs / 1000,
        },
      );
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, options.retryMs);
      options.signal?.addEventListener("abort", () => {
        clearTimeout(t);
        resolve();
      });
    });
    if (options.signal?.aborted) throw new Error("stopped while waiting for a model");
  }
}
