// The Elastic IP moves to this host only once its axon listens with a model loaded: a replacement spot host that is
// still pulling the image or loading the model leaves validators on the old host until it can answer. The instance
// id comes from a file the host's boot script writes (the container is fenced off instance metadata).
import { readFile } from "node:fs/promises";
import { AssociateAddressCommand, type EC2Client } from "@aws-sdk/client-ec2";
import type { AxonLogger } from "@roadwork/miner";

export async function claimAddress(options: {
  ec2: Pick<EC2Client, "send">;
  allocationId: string;
  instanceIdFile: string;
  logger: AxonLogger;
  attempts?: number;
  backoffMs?: number;
}): Promise<string | undefined> {
  const { logger } = options;
  let instanceId: string;
  try {
    instanceId = (await readFile(options.instanceIdFile, "utf8")).trim();
  } catch (error) {
    logger.error("cannot claim the Elastic IP: the host wrote no instance id", {
      file: options.instanceIdFile,
      error: (error as Error).message,
    });
    return undefined;
  }
  if (!/^i-[0-9a-f]{8,17}$/.test(instanceId)) {
    logger.error("cannot claim the Elastic IP: the instance id file holds no instance id", {
      file: options.instanceIdFile,
    });
    return undefined;
  }
  const attempts = options.attempts ?? 6;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const out = await options.ec2.send(
        new AssociateAddressCommand({
          AllocationId: options.allocationId,
          InstanceId: instanceId,
          AllowReassociation: true,
        }),
      );
      logger.info("Elastic IP claimed: validators reach this host now", {
        allocationId: options.allocationId,
        instanceId,
        associationId: out.AssociationId,
      });
      return out.AssociationId;
    } catch (error) {
      const e = error as Error;
      logger.warn("Elastic IP claim failed", { attempt, error: `${e.name}: ${e.message}` });
      if (attempt < attempts) await new Promise((r) => setTimeout(r, (options.backoffMs ?? 2_000) * attempt));
    }
  }
  logger.error("could not claim the Elastic IP; validators still reach the previous host (or nothing)", {
    allocationId: options.allocationId,
  });
  return undefined;
}
