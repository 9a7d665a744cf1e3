// cdk-nag suppressions shared by every stack of the app. Each one says why the finding does not apply.
import type { Stack } from "aws-cdk-lib";
import { NagSuppressions } from "cdk-nag";

/**
 * Every SST v2 stack carries a `CustomResourceHandler` Lambda (sst/constructs Stack) that SST uses for its own custom
 * resources; its role and runtime are SST's, not ours. Call once per stack function.
 */
export function suppressSstStackHandler(stack: Stack): void {
  NagSuppressions.addResourceSuppressionsByPath(
    stack,
    `/${stack.stackName}/CustomResourceHandler`,
    [
      {
        id: "AwsSolutions-IAM4",
        appliesTo: ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
        reason: "SST's per-stack custom resource handler only writes its own CloudWatch logs with this policy.",
      },
      {
        id: "AwsSolutions-L1",
        reason:
          "SST's per-stack custom resource handler runs on nodejs22.x, the runtime this project standardises on " +
          "(nodejs20.x can no longer be created); nodejs24.x is newer but not required.",
      },
    ],
    true,
  );
}
