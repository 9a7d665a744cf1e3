// SST v2 app: `npx sst deploy --stage testnet|mainnet`. Stage choices live in stacks/config.ts.
import type { SSTConfig } from "sst";
import { Alarms } from "./stacks/Alarms.ts";
import { isStageName, regionOf, stageConfigFor } from "./stacks/config.ts";
import { Lifecycle } from "./stacks/Lifecycle.ts";
import { applyStageDefaults } from "./stacks/log-retention.ts";
import { Miner } from "./stacks/Miner.ts";
import { Pipeline } from "./stacks/Pipeline.ts";
import { Storage } from "./stacks/Storage.ts";
import { Synth } from "./stacks/Synth.ts";

export default {
  config(input) {
    // The region follows the stage; an unknown stage fails later, in stacks(), with the list of valid ones.
    const region = input.stage && isStageName(input.stage) ? regionOf(input.stage) : undefined;
    return { name: "roadwork-miner", region: input.region ?? region ?? "us-east-1" };
  },
  stacks(app) {
    // Validate the stage's configuration before any stack is built (tests provide theirs beforehand).
    applyStageDefaults(app, stageConfigFor(app).logRetentionDays);
    // Order matters: a stack may only use() stacks listed before it.
    app.stack(Storage).stack(Alarms).stack(Miner).stack(Lifecycle).stack(Synth).stack(Pipeline);
  },
} satisfies SSTConfig;
