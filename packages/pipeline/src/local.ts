// The pipeline on a local data directory (the one `npm start` uses): the store is <dir>/pipeline, the promotion
// pointer is <dir>/models/current.json (which `roadwork start` serves and watches), the demo model is the first
// champion, and the demo backbone trains the challengers.
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { demoBackboneInput } from "@roadwork/training";
import { LocalDirStore } from "./blob-store.ts";
import { LocalPointerStore, type PromotionPointer } from "./model-pointer.ts";
import type { PipelineContext } from "./steps.ts";

export const localPipelinePaths = (dataDir: string) => ({
  store: join(dataDir, "pipeline"),
  pointer: join(dataDir, "models", "current.json"),
  demoBundle: join(dataDir, "models", "demo"),
  dataset: join(dataDir, "dataset", "manifest.json"),
  lock: join(dataDir, "pipeline", "pipeline.lock"),
  foldedRequests: (runId: string) => join(dataDir, "pipeline", "runs", runId, "folded-requests.jsonl"),
});

/**
 * Makes sure models/current.json exists: when it does not and the demo bundle does, the demo becomes the champion.
 * Returns the pointer (undefined when there is nothing to point at yet).
 */
export async function ensureLocalPointer(dataDir: string): Promise<PromotionPointer | undefined> {
  const paths = localPipelinePaths(dataDir);
  const store = new LocalPointerStore(paths.pointer);
  const current = await store.read();
  const manifest = await readFile(join(paths.demoBundle, "manifest.json"), "utf8").catch(() => undefined);
  const demo = manifest === undefined ? undefined : (JSON.parse(manifest) as { name: string; version: string });
  const demoVersion = demo ? `${demo.name}@${demo.version}` : undefined;
  if (current) {
    // The demo was retrained (another --scenes): point at it again rather than refuse to start.
    const stale = current.pointer.bundle === "demo" && demoVersion && current.pointer.version !== demoVersion;
    if (!stale) return current.pointer;
  }
  if (!demoVersion) return current?.pointer;
  const pointer: PromotionPointer = { bundle: "demo", version: demoVersion, promotedAt: new Date().toISOString() };
  await store.write(pointer, current?.etag);
  return pointer;
}

export async function localContext(
  dataDir: string,
  options: Partial<Pick<PipelineContext, "log" | "signal" | "publish" | "gatePolicy" | "executionProvider">> = {},
): Promise<PipelineContext> {
  const paths = localPipelinePaths(dataDir);
  await access(dataDir).catch(() => {
    throw new Error(
      `data directory ${dataDir} does not exist; run 'npm start' once (it builds the demo) or pass --data-dir`,
    );
  });
  return {
    store: new LocalDirStore(paths.store),
    pointer: new LocalPointerStore(paths.pointer),
    backbone: async () => demoBackboneInput(),
    log: options.log ?? (() => {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.publish ? { publish: options.publish } : {}),
    ...(options.gatePolicy ? { gatePolicy: options.gatePolicy } : {}),
    ...(options.executionProvider ? { executionProvider: options.executionProvider } : {}),
  };
}
