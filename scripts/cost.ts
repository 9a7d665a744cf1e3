// `npm run cost`: the monthly AWS bill of each stage, estimated from the stage's synthesized CloudFormation templates
// and the dated price table in stacks/pricing/. Prints JSON (stdout) and a table (stderr, with progress).
//   npm run cost                 all stages and variants
//   npm run cost -- --json       JSON only
import { parseArgs } from "node:util";
import { Synth } from "@roadwork/data";
import type { StageName } from "../stacks/config.ts";
import { estimateStage, loadPriceTable, renderTable, type StageEstimate } from "../stacks/cost/estimate.ts";
import { synthConfig } from "../stacks/Synth.ts";
import { synthesizeStage } from "../stacks/testing.ts";

const VARIANTS: { label: string; stage: StageName; env: Record<string, string> }[] = [
  { label: "mainnet", stage: "mainnet", env: {} },
  { label: "mainnet-on-demand", stage: "mainnet", env: { ROADWORK_PURCHASE_OPTION: "on-demand" } },
  { label: "mainnet-3-hotkeys", stage: "mainnet", env: { ROADWORK_AXON_PORTS: "8091,8092,8093" } },
  { label: "mainnet-cpu", stage: "mainnet", env: { ROADWORK_COMPUTE_PROFILE: "cpu" } },
  { label: "testnet", stage: "testnet", env: {} },
  { label: "testnet-gpu", stage: "testnet", env: { ROADWORK_COMPUTE_PROFILE: "gpu" } },
];

const { values } = parseArgs({ options: { json: { type: "boolean", default: false } } });
const prices = loadPriceTable();
const estimates: StageEstimate[] = [];
for (const variant of VARIANTS) {
  process.stderr.write(`synthesizing ${variant.label}...\n`);
  const stage = await synthesizeStage({ stage: variant.stage, env: variant.env });
  const estimate = estimateStage(
    variant.label,
    [...stage.stacks.values()].map((s) => s.template),
    prices,
  );
  // Synthetic images at the weekly schedule's volume, priced per image (packages/data/src/synth/prices.ts).
  const synth = synthConfig(variant.stage);
  const price = Synth.priceOf(synth.generator === "cosmos" ? "cosmos:" : synth.generator);
  const images = (synth.weeklyCount * 52) / 12;
  const usd = Math.round(images * price.usdPerImage * 100) / 100;
  estimate.lines.push({
    item: "Synthetic generation",
    detail: `${images.toFixed(0)} images x $${price.usdPerImage} (${price.model})`,
    monthlyUsd: usd,
  });
  estimate.monthlyUsd = Math.round((estimate.monthlyUsd + usd) * 100) / 100;
  estimates.push(estimate);
}
process.stdout.write(
  `${JSON.stringify({ priceTable: { retrieved: prices.retrieved, region: prices.region }, estimates }, null, 2)}\n`,
);
if (!values.json) {
  process.stderr.write(
    `\nPrices: ${prices.region}, retrieved ${prices.retrieved} (stacks/pricing/aws-prices-2026-11.json)\n`,
  );
  process.stderr.write(`${renderTable(estimates)}\n`);
  for (const e of estimates) {
    if (e.unpriced.length > 0) process.stderr.write(`${e.label}: not priced: ${e.unpriced.join(", ")}\n`);
  }
}
