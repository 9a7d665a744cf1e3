// Every Lambda function of the app logs into a log group with the stage's retention, including the ones we do not
// write: SST's per-stack custom-resource handler and CDK's custom-resource providers (ECR empty-on-delete, ...).
// Left alone they log into implicit /aws/lambda/* groups that keep everything forever.
import { Aspects, type CfnResource, type IAspect, RemovalPolicy, Stack, Tags } from "aws-cdk-lib";
import { CfnFunction } from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type { IConstruct } from "constructs";
import { STAGE_TAG_KEY } from "./config.ts";

export class FunctionLogRetention implements IAspect {
  readonly #done = new WeakSet<IConstruct>();
  constructor(private readonly days: logs.RetentionDays) {}

  visit(node: IConstruct): void {
    const resource = node as CfnResource;
    if (resource.cfnResourceType !== "AWS::Lambda::Function" || this.#done.has(node)) return;
    this.#done.add(node);
    const configured =
      node instanceof CfnFunction
        ? node.loggingConfig !== undefined
        : (node as unknown as { _cfnProperties?: Record<string, unknown> })._cfnProperties?.LoggingConfig !== undefined;
    if (configured) return;
    const scope = node.node.scope ?? Stack.of(node);
    const group = new logs.LogGroup(scope, `${node.node.id}LogGroup`, {
      retention: this.days,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    resource.addPropertyOverride("LoggingConfig.LogGroup", group.logGroupName);
  }
}

/**
 * What every stack of a stage gets: the cost-allocation tag its budget filters on, and retention on every function's
 * logs. Called once from sst.config.ts, so stacks added later (pipeline, synth) are covered too.
 */
export function applyStageDefaults(app: IConstruct & { stage: string }, logRetentionDays: number): void {
  Tags.of(app).add(STAGE_TAG_KEY, app.stage);
  Aspects.of(app).add(new FunctionLogRetention(logRetentionDays as logs.RetentionDays));
}
