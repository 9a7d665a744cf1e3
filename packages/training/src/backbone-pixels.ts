// Encoded image → the backbone's pixels, the inference engine's path exactly: shrink-on-load decode to the
// preprocessing's first resize, then geometry (letterbox for non-square frames under the default frame policy).
// One function for this thread and ViewPool's workers, so a worker-decoded row is the row this thread decodes.
import { decodeImage, geometry, type Preprocessing, type RgbImage, resizeTarget } from "@roadwork/inference";

export async function backbonePixels(bytes: Uint8Array, preprocessing: Preprocessing): Promise<RgbImage> {
  return geometry(await decodeImage(bytes, { resizeTo: (w, h) => resizeTarget(preprocessing, w, h) }), preprocessing);
}
