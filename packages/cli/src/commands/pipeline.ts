// `roadwork pipeline`: the retraining state machine. `definition` prints its ASL JSON (the deployed one with
// --stage); `run --local` executes that definition on this machine against a data directory, with fauxqs for SQS/SNS,
// and prints every state with its figures and the gate's decision; `run --stage` starts an execution on AWS.
import { defineCommand, UsageError } from "../command.ts";

/** The deployed state machine's name for a stage (stacks/Pipeline.ts names it so). */
export const stateMachineName = (stage: string) => `roadwork-${stage}-retrain`;

export async function findStateMachineArn(
  stage: string,
): Promise<{ arn: string; sfn: import("@aws-sdk/client-sfn").SFNClient }> {
  const { ListStateMachinesCommand, SFNClient } = await import("@aws-sdk/client-sfn");
  const sfn = new SFNClient({});
  const name = stateMachineName(stage);
  let token: string | undefined;
  do {
    const res = await sfn.send(new ListStateMachinesCommand({ nextToken: token }));
    const hit = res.stateMachines?.find((m) => m.name === name);
    if (hit?.stateMachineArn) return { arn: hit.stateMachineArn, sfn };
    token = res.nextToken;
  } while (token);
  throw new Error(
    `no state machine ${name} in this account/region; deploy the stage first (sst deploy --stage ${stage})`,
  );
}

export const command = defineCommand({
  name: "pipeline",
  summary: "the retraining pipeline: print its state machine, run it locally or start it on AWS",
  usage: "definition [--stage <stage>] | run (--local [options] | --stage <stage> --dataset <key>)",
  description: `definition      the state machine's ASL JSON: with --stage, the one deployed on AWS (read back from Step
                Functions); without, the same builder with local placeholder ARNs.
run --local     runs that definition here: dataset version → train → evaluate challenger and champion → gate →
                promote → publish, on the data directory of 'npm start'; a running 'npm start' swaps the promoted
                model in. Prints every state with its figures and the gate's decision; exit 1 when the run failed.
run --stage     starts an execution of the deployed state machine (AWS credentials from the environment).`,
  positionals: true,
  options: {
    stage: { type: "string", value: "<stage>", help: "the deployed stage (testnet, mainnet)" },
    local: { type: "boolean", default: false, help: "run here, on the data directory" },
    "data-dir": {
      type: "string",
      value: "<dir>",
      help: "local data directory (default: $ROADWORK_DATA_DIR or .roadwork)",
    },
    dataset: {
      type: "string",
      value: "<manifest>",
      help: "dataset manifest (local default <data-dir>/dataset/manifest.json; on AWS a store key)",
    },
    "run-id": { type: "string", value: "<id>", help: "execution name (default: run-<time>-<random>)" },
    views: { type: "string", value: "<n>", help: "validator-augmented views per training image (default 2)" },
    epochs: { type: "string", value: "<n>", help: "head training epochs (default: the demo head's)" },
    head: { type: "string", value: "mlp|logistic", help: "head kind (default mlp)" },
    cold: {
      type: "boolean",
      default: false,
      help: "train the head from a random draw, not from the champion's head (same backbone)",
    },
    "eval-limit": { type: "string", value: "<n>", help: "at most this many test images in the frozen evaluation set" },
    "publish-repo": { type: "string", value: "<org/name>", help: "enqueue a publish request for a promoted model" },
    uid: { type: "string", value: "<n>", help: "the miner uid for the publish request" },
    json: { type: "boolean", default: false, help: "print the run's result as JSON" },
  },
  async run({ values, positionals }) {
    const [sub, ...extra] = positionals;
    if ((sub !== "definition" && sub !== "run") || extra.length > 0) {
      throw new UsageError("give 'definition' or 'run'. Run 'roadwork pipeline --help'.");
    }
    const { buildDefinition, LOCAL_RESOURCES, PipelineInput } = await import("@roadwork/pipeline");
    if (sub === "definition") {
      if (!values.stage) {
        console.log(JSON.stringify(buildDefinition(LOCAL_RESOURCES), null, 2));
        return 0;
      }
      const { DescribeStateMachineCommand } = await import("@aws-sdk/client-sfn");
      const { arn, sfn } = await findStateMachineArn(values.stage);
      const res = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
      console.log(JSON.stringify(JSON.parse(res.definition ?? "{}"), null, 2));
      return 0;
    }
    const int = (name: string, v: string | undefined, lo: number, hi: number): number | undefined => {
      if (v === undefined) return undefined;
      const x = Number(v);
      if (!Number.isInteger(x) || x < lo || x > hi)
        throw new UsageError(`--${name} must be an integer from ${lo} to ${hi}`);
      return x;
    };
    if (values.head !== undefined && values.head !== "mlp" && values.head !== "logistic") {
      throw new UsageError("--head must be 'mlp' or 'logistic'");
    }
    if (Boolean(values["publish-repo"]) !== Boolean(values.uid))
      throw new UsageError("--publish-repo and --uid go together");
    const { DEMO_HEAD } = await import("@roadwork/training");
    const { randomUUID } = await import("node:crypto");
    const runId =
      values["run-id"] ?? `run-${new Date().toISOString().replace(/[:.]/g, "-")}-${randomUUID().slice(0, 6)}`;
    const views = int("views", values.views, 1, 16);
    const epochs = int("epochs", values.epochs, 1, 10_000);
    const evalLimit = int("eval-limit", values["eval-limit"], 1, 1_000_000);
    const train = {
      ...(views ? { viewsPerImage: views } : {}),
      ...(values.cold ? { warmStartEpochs: 0 } : {}),
      head: { ...DEMO_HEAD, ...(values.head ? { kind: values.head } : {}), ...(epochs ? { epochs } : {}) },
    };

    if (!values.local) {
      if (!values.stage) throw new UsageError("give --local or --stage <stage>. Run 'roadwork pipeline --help'.");
      if (!values.dataset) throw new UsageError("--stage needs --dataset <store key of a dataset manifest>");
      const { StartExecutionCommand } = await import("@aws-sdk/client-sfn");
      const { arn, sfn } = await findStateMachineArn(values.stage);
      const input = PipelineInput.parse({ runId, reason: "manual", dataset: { manifest: values.dataset }, train });
      const res = await sfn.send(
        new StartExecutionCommand({ stateMachineArn: arn, name: runId, input: JSON.stringify(input) }),
      );
      console.log(`started ${res.executionArn}`);
      return 0;
    }
    return runLocally({ values, runId, train, evalLimit });
  },
});

async function runLocally(args: {
  values: { "data-dir"?: string; dataset?: string; "publish-repo"?: string; uid?: string; json: boolean };
  runId: string;
  train: Record<string, unknown>;
  evalLimit: number | undefined;
}): Promise<number> {
  const { values, runId, train, evalLimit } = args;
  const { appendFile, mkdir } = await import("node:fs/promises");
  const { dirname } = await import("node:path");
  const { CreateTopicCommand, SNSClient, SubscribeCommand } = await import("@aws-sdk/client-sns");
  const { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } = await import("@aws-sdk/client-sqs");
  const pipeline = await import("@roadwork/pipeline");
  const { interruptSignal, resolveDataDir } = await import("../local-network.ts");
  const dataDir = resolveDataDir(values["data-dir"]);
  const paths = pipeline.localPipelinePaths(dataDir);
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const champion = await pipeline.ensureLocalPointer(dataDir);
  say(`pipeline: data directory ${dataDir}; champion ${champion?.version ?? "none"} (${paths.pointer})`);
  const input = pipeline.PipelineInput.parse({
    runId,
    reason: "manual",
    requestedAt: new Date().toISOString(),
    dataset: { manifest: values.dataset ?? paths.dataset },
    train,
    evaluation: evalLimit ? { limit: evalLimit } : {},
  });

  // SQS and SNS through the fauxqs emulator, in this process, with the real AWS SDK clients.
  const { startFauxqs } = await import("fauxqs");
  const server = await startFauxqs({ port: 0, logger: false });
  const aws = {
    endpoint: server.address,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  };
  const sqs = new SQSClient(aws);
  const sns = new SNSClient(aws);
  const interrupt = interruptSignal();
  try {
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: "roadwork-local-publish" }));
    const inbox = await sqs.send(new CreateQueueCommand({ QueueName: "roadwork-local-alerts-inbox" }));
    const inboxArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: inbox.QueueUrl!, AttributeNames: ["QueueArn"] }))
    ).Attributes!.QueueArn!;
    const topic = await sns.send(new CreateTopicCommand({ Name: "roadwork-local-alerts" }));
    await sns.send(new SubscribeCommand({ TopicArn: topic.TopicArn!, Protocol: "sqs", Endpoint: inboxArn }));
    const definition = pipeline.buildDefinition({
      ...pipeline.LOCAL_RESOURCES,
      publishQueueUrl: queue.QueueUrl!,
      alertTopicArn: topic.TopicArn!,
    });
    const ctx = await pipeline.localContext(dataDir, {
      log: (event, data) => say(`    ${event}${data ? ` ${JSON.stringify(data)}` : ""}`),
      signal: interrupt.signal,
      ...(values["publish-repo"] ? { publish: { repo: values["publish-repo"], uid: Number(values.uid) } } : {}),
    });
    await mkdir(dirname(paths.lock), { recursive: true });
    const outcome = await pipeline.withLocalLock(
      paths.lock,
      runId,
      async (running) => {
        await mkdir(dirname(paths.foldedRequests(running.runId)), { recursive: true });
        await appendFile(paths.foldedRequests(running.runId), `${JSON.stringify(input)}\n`);
      },
      () => pipeline.runLocal(input, { definition, ctx, sqs, sns, print: say }),
    );
    if (!outcome.ran) {
      say(`pipeline: run ${outcome.foldedInto} is in progress; this request was folded into it`);
      if (values.json) console.log(JSON.stringify({ foldedInto: outcome.foldedInto }));
      return 0;
    }
    const result = outcome.value;
    const gate = result.results.Gate as { decision?: string } | undefined;
    say(
      result.status === "succeeded"
        ? `pipeline: run ${runId} succeeded: ${gate?.decision ?? "?"}; artifacts in ${paths.store}/runs/${runId}`
        : `pipeline: run ${runId} failed (${result.error?.name}); see the states above and ${paths.store}/runs/${runId}`,
    );
    if (values.json) console.log(JSON.stringify({ runId, ...result }, null, 1));
    return result.status === "succeeded" ? 0 : 1;
  } finally {
    interrupt.dispose();
    sqs.destroy();
    sns.destroy();
    await server.stop();
  }
}
