// A loopback NVIDIA NIM for Cosmos: `GET /v1/health/ready` and `POST /v1/infer` as NVIDIA documents them
// (docs.nvidia.com/nim/cosmos, API reference and sampling parameters). The "model" is the project's scene renderer;
// answers carry the image as `b64_image` (image-capable NIMs) or, in video mode, an MP4-boxed payload in `b64_video`.
// A script makes calls throttle (429), be refused by the guardrail, fail, or the server still be loading.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Synth } from "@roadwork/data";
import { z } from "zod";

const InferBody = z
  .object({
    prompt: z.string().min(1),
    negative_prompt: z.string().optional(),
    prompt_upsampling: z.boolean().optional(),
    seed: z.number().int().min(0).max(4_294_967_295).optional(),
    guidance_scale: z.number().optional(),
    steps: z.number().int().positive().optional(),
    video_params: z
      .object({
        height: z.number().int().positive(),
        width: z.number().int().positive(),
        frames_count: z.number().int().positive(),
        frames_per_sec: z.number().int().positive(),
      })
      .optional(),
    image: z
      .string()
      .regex(/^data:image\/(jpeg|png|webp);base64,/)
      .optional(),
  })
  .strict();

export type CosmosOutcome = "image" | "video" | "throttle" | "guardrail" | "error" | "not-json";

export class FakeCosmos {
  readonly calls: z.infer<typeof InferBody>[] = [];
  ready = true;
  mode: "image" | "video" = "image";
  #queue: CosmosOutcome[] = [];
  #server: Server;
  #url = "";
  readonly #renderer = new Synth.ProceduralGenerator({ megapixels: 0.12 });

  private constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        void this.#handle(req.method ?? "GET", req.url ?? "/", Buffer.concat(chunks)).then(({ status, body }) => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(body);
        });
      });
    });
  }

  static async start(): Promise<FakeCosmos> {
    const fake = new FakeCosmos();
    await new Promise<void>((resolve) => fake.#server.listen(0, "127.0.0.1", resolve));
    fake.#url = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  get url(): string {
    return this.#url;
  }

  next(...outcomes: CosmosOutcome[]): this {
    this.#queue.push(...outcomes);
    return this;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(method: string, url: string, raw: Buffer): Promise<{ status: number; body: string }> {
    const json = (status: number, value: unknown) => ({ status, body: JSON.stringify(value) });
    if (method === "GET" && url === "/v1/health/ready") {
      return this.ready
        ? json(200, { description: "Triton readiness check", status: "ready" })
        : json(503, { description: "Triton readiness check", status: "not ready" });
    }
    if (method === "GET" && url === "/v1/health/live")
      return json(200, { description: "Triton liveness check", status: "live" });
    if (method !== "POST" || url !== "/v1/infer") return json(404, { detail: "Not Found" });
    if (!this.ready) return json(503, { detail: "model is loading" });
    let parsed: z.infer<typeof InferBody>;
    try {
      parsed = InferBody.parse(JSON.parse(raw.toString("utf8")));
    } catch (error) {
      return json(422, { detail: String((error as Error).message).slice(0, 300) });
    }
    this.calls.push(parsed);
    const outcome = this.#queue.shift() ?? this.mode;
    if (outcome === "throttle") return json(429, { detail: "Too many requests" });
    if (outcome === "guardrail") return json(400, { detail: "Prompt blocked by the text guardrail" });
    if (outcome === "error") return json(500, { detail: "Internal error during inference" });
    if (outcome === "not-json") return { status: 200, body: "<html>proxy error</html>" };
    const label: 0 | 1 = /cone|barrier|worker|roadwork sign|excavator|roller/i.test(parsed.prompt) ? 1 : 0;
    const source = parsed.image ? Buffer.from(parsed.image.split(",")[1]!, "base64") : undefined;
    const request = Synth.GenerationRequestSchema.parse({
      requestId: "cosmos",
      prompt: parsed.prompt,
      label,
      seed: Math.max(1, parsed.seed ?? 1),
      ...(source ? { source: { id: "src", group: "g", strength: 0.7 } } : {}),
    });
    const [image] = await this.#renderer.generate(request, source);
    const upsampled_prompt = parsed.prompt;
    if (outcome === "video") {
      // An ISO-BMFF 'ftyp' box ahead of the frame: not an image, so the adapter needs its frame extractor.
      const ftyp = Buffer.from([0, 0, 0, 20, ...Buffer.from("ftypisom"), 0, 0, 2, 0, ...Buffer.from("isom")]);
      return json(200, { b64_video: Buffer.concat([ftyp, image!.bytes]).toString("base64"), upsampled_prompt });
    }
    return json(200, { b64_image: Buffer.from(image!.bytes).toString("base64"), upsampled_prompt, seed: parsed.seed });
  }
}
