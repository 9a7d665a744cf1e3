// Powertools singletons shared by the lifecycle Lambdas: configured once per cold start from POWERTOOLS_* env
// (service name, metrics namespace, log level), so handlers stay thin.
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "roadwork-lifecycle" });
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "RoadworkMiner",
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "roadwork-lifecycle",
  defaultDimensions: process.env.STAGE ? { Stage: process.env.STAGE } : {},
});
export const tracer = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "roadwork-lifecycle" });

export interface SqsBatchDeps {
  logger: Logger;
  metrics: Metrics;
}

export interface SqsBatchOptions {
  /** Logged with the message id and error when a record fails. */
  failureMessage: string;
  /** Counted once per failed record, when given. */
  failureMetric?: string;
  /** Per-record logger keys the record handler appends, cleared after each record. */
  keysToClear?: string[];
}

/**
 * An SQS Lambda with partial batch failures: each record is processed on its own, a failing record is logged (and
 * counted) and reported back to SQS for retry, the others are acknowledged; metrics are flushed once per invocation.
 */
export function sqsPartialBatchHandler<D extends SqsBatchDeps>(
  resolveDeps: () => D,
  processRecord: (deps: D, record: SQSRecord) => Promise<unknown>,
  options: SqsBatchOptions,
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const processor = new BatchProcessor(EventType.SQS);
  return async (event, context) => {
    const deps = resolveDeps();
    deps.logger.addContext(context);
    try {
      return await processPartialResponse(
        event,
        async (record: SQSRecord) => {
          try {
            return await processRecord(deps, record);
          } catch (error) {
            deps.logger.error(options.failureMessage, {
              messageId: record.messageId,
              error: (error as Error).message,
            });
            if (options.failureMetric) deps.metrics.addMetric(options.failureMetric, MetricUnit.Count, 1);
            throw error;
          } finally {
            if (options.keysToClear) deps.logger.removeKeys(options.keysToClear);
          }
        },
        processor,
        { context, throwOnFullBatchFailure: false },
      );
    } finally {
      deps.metrics.publishStoredMetrics();
    }
  };
}

/**
 * A Lambda invoked by an EventBridge rule or schedule: deps resolved once per cold start, the logger given the
 * invocation's context, metrics flushed once per invocation whatever happens.
 */
export function scheduledHandler<D extends SqsBatchDeps, R>(
  resolveDeps: () => D,
  run: (deps: D, event: unknown) => Promise<R>,
): (event: unknown, context?: Context) => Promise<R> {
  return async (event, context) => {
    const deps = resolveDeps();
    if (context) deps.logger.addContext(context);
    try {
      return await run(deps, event);
    } finally {
      deps.metrics.publishStoredMetrics();
    }
  };
}
