// Native-resolution frames for May-format challenges made from procedural scenes. A procedural dataset stores small
// frames (320×240) to keep generation and training quick; the simulator and the evaluation sets re-draw the same
// scene (same seed, so the same label, category and conditions) at a real dashcam or synthetic size instead.
import sharp from "sharp";
import { planScene, renderScene } from "../scene/scene.ts";
import { NATIVE_FRAME_SIZES, type NativeKind } from "./validator-format.ts";

/**
 * The scene of `seed` as a native `kind` frame (1920×1080 or 1024×1024), or undefined when the seed does not plan
 * the expected label (a dataset made with other plan options). Drawn at half size and upscaled (Lanczos): the scene
 * is vector art and the per-pixel sensor noise at full size costs ~1.5 s a frame on one core.
 */
export async function renderNativeSceneFrame(
  seed: number,
  expectedLabel: 0 | 1,
  kind: NativeKind,
): Promise<Buffer | undefined> {
  const size = NATIVE_FRAME_SIZES[kind];
  const plan = planScene(seed, { width: size.width / 2, height: size.height / 2 });
  if (plan.label !== expectedLabel) return undefined;
  const { jpeg } = await renderScene(plan, 92);
  return sharp(jpeg)
    .resize(size.width, size.height, { kernel: "lanczos3" })
    .jpeg({ quality: 92, chromaSubsampling: "4:2:0" })
    .toBuffer();
}
