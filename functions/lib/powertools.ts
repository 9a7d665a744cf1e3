// Powertools singletons shared by the lifecycle Lambdas: configured once per cold start from POWERTOOLS_* env
// (service name, metrics namespace, log level), so handlers stay thin.
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "roadwork-lifecycle" });
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "RoadworkMiner",
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "roadwork-lifecycle",
  defaultDimensions: process.env.STAGE ? { Stage: process.env.STAGE } : {},
});
export const tracer = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "roadwork-lifecycle" });
