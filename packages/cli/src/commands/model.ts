// `roadwork model`: the promotion pointer. `show` prints what is current and what it replaced; `rollback` restores the
// previous pointer (locally on a data directory, or the stage's models/current.json in S3), which the axon then
// hot-swaps to.
import type { PointerStore, PromotionPointer } from "@roadwork/pipeline";
import { defineCommand, UsageError } from "../command.ts";

/** The stack tags the state machine with the bucket holding the pointer (stacks/Pipeline.ts). */
export const MODELS_BUCKET_TAG = "roadwork:models-bucket";

async function stagePointer(stage: string, bucket: string | undefined): Promise<PointerStore> {
  const { S3PointerStore } = await import("@roadwork/pipeline");
  const { S3Client } = await import("@aws-sdk/client-s3");
  let name = bucket;
  if (!name) {
    const { ListTagsForResourceCommand } = await import("@aws-sdk/client-sfn");
    const { findStateMachineArn } = await import("./pipeline.ts");
    const { arn, sfn } = await findStateMachineArn(stage);
    const tags = await sfn.send(new ListTagsForResourceCommand({ resourceArn: arn }));
    name = tags.tags?.find((t) => t.key === MODELS_BUCKET_TAG)?.value;
    if (!name) throw new Error(`the ${stage} state machine has no ${MODELS_BUCKET_TAG} tag; give --bucket`);
  }
  return new S3PointerStore(new S3Client({}), name);
}

const describe = (p: PromotionPointer, depth = 0): string[] => [
  `${"  ".repeat(depth)}${p.version}  ${p.bundle}  (promoted ${p.promotedAt}${p.runId ? `, run ${p.runId}` : ""})`,
  ...(p.previous ? describe(p.previous, depth + 1) : []),
];

export const command = defineCommand({
  name: "model",
  summary: "show or roll back the promoted model pointer (models/current.json)",
  usage: "show|rollback (--stage <stage> | --data-dir <dir>) [--bucket <models bucket>]",
  description: `show      the current promotion pointer and the ones it replaced (newest first)
rollback  restores the previous pointer; a running axon swaps back at once (local file watch) or within its poll
          interval (S3). The rolled-back pointer is dropped from the chain.`,
  positionals: true,
  options: {
    stage: {
      type: "string",
      value: "<stage>",
      help: "the deployed stage; its models bucket comes from the state machine's tag",
    },
    bucket: { type: "string", value: "<name>", help: "the models bucket (instead of looking it up)" },
    "data-dir": {
      type: "string",
      value: "<dir>",
      help: "local data directory (default: $ROADWORK_DATA_DIR or .roadwork)",
    },
  },
  async run({ values, positionals }) {
    const [sub, ...extra] = positionals;
    if ((sub !== "show" && sub !== "rollback") || extra.length > 0) {
      throw new UsageError("give 'show' or 'rollback'. Run 'roadwork model --help'.");
    }
    if (values.stage && values["data-dir"]) throw new UsageError("give --stage or --data-dir, not both");
    const { LocalPointerStore, localPipelinePaths, rollbackPointer } = await import("@roadwork/pipeline");
    const { resolveDataDir } = await import("../local-network.ts");
    const store = values.stage
      ? await stagePointer(values.stage, values.bucket)
      : new LocalPointerStore(localPipelinePaths(resolveDataDir(values["data-dir"])).pointer);
    if (sub === "show") {
      const current = await store.read();
      if (!current) throw new Error(`no pointer at ${store.location}; run 'npm start' or a pipeline first`);
      console.log(describe(current.pointer).join("\n"));
      return 0;
    }
    const { from, to } = await rollbackPointer(store);
    console.log(`rolled back ${store.location}: ${from.version} → ${to.version} (${to.bundle})`);
    return 0;
  },
});
