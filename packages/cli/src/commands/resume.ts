// `roadwork resume --stage <stage>`: bring back an axon host that the subnet watch paused while the subnet paid nobody
// (spec §4.7; stacks/config.ts pauseAfterDays): the Auto Scaling group back to one host, the ECS service back to one
// task. With --models-bucket it also records a hold, so the watch does not pause the host again for --hold-days.
import { defineCommand, UsageError } from "../command.ts";

export const command = defineCommand({
  name: "resume",
  summary: "bring back an axon host the subnet watch paused (scale the host and the service to one)",
  usage: "--stage <testnet|mainnet> [options]",
  description: `Uses the AWS credentials and region of the environment (AWS_PROFILE / AWS_REGION). The group and service names
follow stacks/config.ts (roadwork-<stage>-axon in cluster roadwork-<stage>). The host takes a few minutes to boot,
pull the image and load the model; the axon claims its Elastic IP once it answers.`,
  options: {
    stage: { type: "string", value: "<stage>", help: "the deployed stage (testnet or mainnet)" },
    region: { type: "string", value: "<region>", help: "AWS region (default: $AWS_REGION, else us-east-1)" },
    "models-bucket": { type: "string", value: "<bucket>", help: "record a hold in <bucket>/watch/pulse.json" },
    "hold-days": { type: "string", value: "<days>", default: "7", help: "no automatic pause for this long" },
    endpoint: { type: "string", value: "<url>", help: "AWS endpoint override (emulators, tests)" },
  },
  async run({ values }) {
    const stage = values.stage;
    if (!stage || !/^(testnet|mainnet)$/.test(stage)) throw new UsageError("--stage must be testnet or mainnet");
    const hold = Number(values["hold-days"]);
    if (!(hold >= 0 && hold <= 90)) throw new UsageError("--hold-days must be 0..90");
    const region = values.region ?? process.env.AWS_REGION ?? "us-east-1";
    const client = { region, ...(values.endpoint ? { endpoint: values.endpoint } : {}) };
    const { AutoScalingClient, UpdateAutoScalingGroupCommand } = await import("@aws-sdk/client-auto-scaling");
    const { ECSClient, UpdateServiceCommand } = await import("@aws-sdk/client-ecs");
    const names = { group: `roadwork-${stage}-axon`, cluster: `roadwork-${stage}`, service: `roadwork-${stage}-axon` };
    const autoscaling = new AutoScalingClient(client);
    const ecs = new ECSClient(client);
    try {
      await autoscaling.send(
        new UpdateAutoScalingGroupCommand({
          AutoScalingGroupName: names.group,
          MinSize: 1,
          MaxSize: 1,
          DesiredCapacity: 1,
        }),
      );
      await ecs.send(new UpdateServiceCommand({ cluster: names.cluster, service: names.service, desiredCount: 1 }));
    } catch (error) {
      const e = error as Error;
      throw new Error(
        `could not scale ${names.group} / ${names.service} up (${e.name}: ${e.message}); is the stage deployed in ${region}, and may these credentials update it?`,
      );
    } finally {
      autoscaling.destroy();
      ecs.destroy();
    }
    if (values["models-bucket"]) {
      const { S3Client } = await import("@aws-sdk/client-s3");
      const { S3JsonStore } = await import("@roadwork/lifecycle");
      const { PulseRecord, resumedRecord } = await import("@roadwork/chain/pause-policy");
      const s3 = new S3Client({ ...client, ...(values.endpoint ? { forcePathStyle: true } : {}) });
      try {
        const store = new S3JsonStore(s3, values["models-bucket"]);
        const previous = await store.read("watch/pulse.json", PulseRecord);
        await store.write(
          "watch/pulse.json",
          resumedRecord(previous?.value, Date.now(), hold),
          previous?.etag ?? undefined,
        );
      } finally {
        s3.destroy();
      }
    }
    console.log(
      `resumed ${stage}: ${names.group} desired 1, ${names.service} desired 1` +
        (values["models-bucket"] ? `; no automatic pause for ${hold} days` : ""),
    );
    return 0;
  },
});
