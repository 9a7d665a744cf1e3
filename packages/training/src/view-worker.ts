// A worker thread of ViewPool: renders validator-format views (formatChallenge) of stored images. The jan/apr
// augmentations are JavaScript raster work, so on a many-core GPU host the views, not the backbone, set the pace
// unless they are drawn on several threads.
import { readFile } from "node:fs/promises";
import { parentPort } from "node:worker_threads";
import { type ChallengeFormat, formatChallenge, Prng } from "@roadwork/data";

export interface ViewRequest {
  id: number;
  path: string;
  format: ChallengeFormat;
  seed: string;
}

export type ViewReply = { id: number; jpeg: Uint8Array } | { id: number; error: string };

parentPort?.on("message", async (req: ViewRequest) => {
  try {
    const { jpeg } = await formatChallenge(await readFile(req.path), req.format, new Prng(req.seed));
    const out = new Uint8Array(jpeg); // a copy that owns its buffer, so it can be transferred
    parentPort?.postMessage({ id: req.id, jpeg: out } satisfies ViewReply, [out.buffer]);
  } catch (error) {
    parentPort?.postMessage({ id: req.id, error: (error as Error).message } satisfies ViewReply);
  }
});
