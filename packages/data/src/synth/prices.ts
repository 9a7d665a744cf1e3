// What one generated image costs, per model: a dated table with its sources. Bedrock bills image models per image
// (on-demand); a Cosmos NIM on our own GPU task costs instance-hours, turned into a per-image figure through the
// throughput we assume for it. Estimates and the budget both read this table; a model missing here cannot be used.

export interface ModelPrice {
  model: string;
  /** USD per generated image. */
  usdPerImage: number;
  basis: string;
  source: string;
  retrieved: string;
}

export const PRICE_TABLE_DATE = "2026-11-30";

const BEDROCK_SOURCE =
  "https://aws.amazon.com/bedrock/pricing/ (Stability AI and Amazon Nova sections, on-demand, us-west-2/us-east-1); the page renders its figures client-side, so these are the per-image prices AWS published for each model at launch — verify on the page before a large run";

export const BEDROCK_IMAGE_PRICES: Record<string, ModelPrice> = {
  "stability.sd3-5-large-v1:0": {
    model: "stability.sd3-5-large-v1:0",
    usdPerImage: 0.08,
    basis: "per image, any supported aspect ratio (~1 MP), text-to-image or image-to-image",
    source: BEDROCK_SOURCE,
    retrieved: PRICE_TABLE_DATE,
  },
  "stability.stable-image-core-v1:1": {
    model: "stability.stable-image-core-v1:1",
    usdPerImage: 0.04,
    basis: "per image (~1.5 MP), text-to-image",
    source: BEDROCK_SOURCE,
    retrieved: PRICE_TABLE_DATE,
  },
  "stability.stable-image-ultra-v1:1": {
    model: "stability.stable-image-ultra-v1:1",
    usdPerImage: 0.14,
    basis: "per image (~1 MP), text-to-image",
    source: BEDROCK_SOURCE,
    retrieved: PRICE_TABLE_DATE,
  },
  "amazon.nova-canvas-v1:0": {
    model: "amazon.nova-canvas-v1:0",
    usdPerImage: 0.04,
    basis: "per image, standard quality, up to 1024×1024",
    source: BEDROCK_SOURCE,
    retrieved: PRICE_TABLE_DATE,
  },
};

/** A ≥ 48 GB GPU for the Cosmos NIM: g6e.xlarge (1× NVIDIA L40S 48 GB). */
export const COSMOS_INSTANCE = {
  instanceType: "g6e.xlarge",
  gpu: "NVIDIA L40S 48 GB",
  onDemandHourly: 1.861,
  spotHourly: 0.76,
  /** Assumed throughput of a single-frame Cosmos text-to-image generation at ~1 MP, including model warm time. */
  imagesPerHour: 120,
  source:
    "https://aws.amazon.com/ec2/pricing/on-demand/ (g6e.xlarge, Linux, us-east-1) and typical us-east-1 spot prices from the EC2 spot price history; throughput is our assumption (30 s per image), to be replaced by a measured figure",
  retrieved: PRICE_TABLE_DATE,
} as const;

export function cosmosPrice(purchase: "spot" | "on-demand" = "spot"): ModelPrice {
  const hourly = purchase === "spot" ? COSMOS_INSTANCE.spotHourly : COSMOS_INSTANCE.onDemandHourly;
  return {
    model: "cosmos-nim",
    usdPerImage: Math.round((hourly / COSMOS_INSTANCE.imagesPerHour) * 1e6) / 1e6,
    basis: `${COSMOS_INSTANCE.instanceType} ${purchase} at $${hourly}/h ÷ ${COSMOS_INSTANCE.imagesPerHour} images/h`,
    source: COSMOS_INSTANCE.source,
    retrieved: COSMOS_INSTANCE.retrieved,
  };
}

export const PROCEDURAL_PRICE: ModelPrice = {
  model: "procedural",
  usdPerImage: 0,
  basis: "runs on the caller's CPU",
  source: "packages/data/src/scene",
  retrieved: PRICE_TABLE_DATE,
};

/** The price of a generator id ("bedrock:<model>", "cosmos:<url>", "procedural"); throws for an unpriced model. */
export function priceOf(generatorId: string): ModelPrice {
  if (generatorId === "procedural") return PROCEDURAL_PRICE;
  if (generatorId.startsWith("cosmos:")) return cosmosPrice();
  if (generatorId.startsWith("bedrock:")) {
    const model = generatorId.slice("bedrock:".length);
    const price = BEDROCK_IMAGE_PRICES[model];
    if (price) return price;
    throw new Error(
      `no price for Bedrock model '${model}': add it to packages/data/src/synth/prices.ts (priced: ${Object.keys(BEDROCK_IMAGE_PRICES).join(", ")})`,
    );
  }
  throw new Error(`unknown generator '${generatorId}'`);
}
