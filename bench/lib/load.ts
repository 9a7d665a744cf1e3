// Closed-loop load: `concurrency` workers, each a validator with its own Dendrite (own hotkey and uuid, as separate
// validators are), each sending its next signed request as soon as the last one answered. Signing happens before the
// clock starts; the latency is the dendrite's round trip (request sent to response body read).
import { type AxonTarget, Dendrite, type DendriteSigner } from "@roadwork/protocol";

export interface Sample {
  latencyMs: number;
  status: number;
  prediction: number;
  image: number;
}

export interface BlockResult {
  samples: Sample[];
  wallMs: number;
}

export function dendrites(signers: DendriteSigner[], count: number): Dendrite[] {
  return Array.from(
    { length: count },
    (_, i) => new Dendrite({ signer: signers[i % signers.length] as DendriteSigner }),
  );
}

/** Sends `total` requests spread over `workers` concurrently; images are taken round robin from `firstImage` on. */
export async function runBlock(
  workers: Dendrite[],
  axon: AxonTarget,
  images: readonly string[],
  total: number,
  firstImage: number,
): Promise<BlockResult> {
  const samples: Sample[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    workers.map(async (dendrite) => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const image = (firstImage + i) % images.length;
        const request = dendrite.buildRequest({ axon, image: images[image] as string, timeout: 9 });
        const result = await dendrite.query(request);
        samples.push({ latencyMs: result.roundTripMs, status: result.status, prediction: result.prediction, image });
      }
    }),
  );
  return { samples, wallMs: performance.now() - started };
}

/** A good answer: 200 and a prediction a validator would score (inside [0, 1]). */
export const answered = (s: Pick<Sample, "status" | "prediction">): boolean =>
  s.status === 200 && s.prediction >= 0 && s.prediction <= 1;
