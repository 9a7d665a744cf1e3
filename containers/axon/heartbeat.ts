// The container's liveness signal: a file whose modification time the process refreshes while it runs, whether it
// already answers or still waits for a first model. The ECS health check (stacks/Miner.ts) reads its age, so a new
// stage without a model deploys and stays up instead of failing health checks into a rollback.
import { writeFile } from "node:fs/promises";

export function startHeartbeat(
  file: string,
  intervalMs = 15_000,
  onError?: (error: Error) => void,
  /** Skips the beat while false (once serving: every hotkey's axon still listens), so ECS replaces the task. */
  alive: () => boolean = () => true,
): () => void {
  const beat = () =>
    alive() &&
    writeFile(file, `${Date.now()}\n`).catch((error: Error) => {
      onError?.(error);
    });
  void beat();
  const timer = setInterval(beat, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
