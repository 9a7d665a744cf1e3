// Real AWS SDK clients against the fauxqs S3/SQS/SNS emulator on a loopback port, plus Powertools logger/metrics
// whose output tests can read (to assert on EMF metrics and on secrets never being logged).
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSEvent } from "aws-lambda";
import { type FauxqsServer, startFauxqs } from "fauxqs";

const REGION = "us-east-1";
const credentials = { accessKeyId: "test", secretAccessKey: "test" };

export interface Emulators {
  server: FauxqsServer;
  s3: S3Client;
  sqs: SQSClient;
  sns: SNSClient;
  stop(): Promise<void>;
}

export async function startEmulators(): Promise<Emulators> {
  const server = await startFauxqs({ port: 0, logger: false });
  const endpoint = server.address;
  const s3 = new S3Client({ endpoint, region: REGION, credentials, forcePathStyle: true });
  const sqs = new SQSClient({ endpoint, region: REGION, credentials });
  const sns = new SNSClient({ endpoint, region: REGION, credentials });
  return {
    server,
    s3,
    sqs,
    sns,
    async stop() {
      s3.destroy();
      sqs.destroy();
      sns.destroy();
      await server.stop();
    },
  };
}

/** Receives (and deletes) everything currently in a queue. */
export async function drainQueue(sqs: SQSClient, queueUrl: string) {
  const out: { messageId: string; body: string; receiptHandle: string }[] = [];
  for (;;) {
    const res = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const msgs = res.Messages ?? [];
    if (msgs.length === 0) return out;
    for (const m of msgs) {
      out.push({ messageId: m.MessageId!, body: m.Body!, receiptHandle: m.ReceiptHandle! });
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
  }
}

/** An SQS event as Lambda's event source mapping delivers it, from messages really received from the queue. */
export function sqsEvent(
  messages: { messageId: string; body: string; receiptHandle: string }[],
  queueArn: string,
): SQSEvent {
  return {
    Records: messages.map((m) => ({
      messageId: m.messageId,
      receiptHandle: m.receiptHandle,
      body: m.body,
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: String(Date.now()),
        SenderId: "test",
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: queueArn,
      awsRegion: REGION,
    })),
  };
}

export function lambdaContext(name: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${REGION}:000000000000:function:${name}`,
    memoryLimitInMB: "1024",
    awsRequestId: `req-${Math.random().toString(16).slice(2)}`,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "test",
    getRemainingTimeInMillis: () => 600_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Metrics that keep each flushed EMF document instead of printing it. */
export class CapturedMetrics extends Metrics {
  readonly flushed: Record<string, unknown>[] = [];
  override publishStoredMetrics(): this {
    const emf = this.serializeMetrics() as unknown as Record<string, unknown>;
    if ((emf._aws as { CloudWatchMetrics: { Metrics: unknown[] }[] }).CloudWatchMetrics[0]!.Metrics.length > 0) {
      this.flushed.push(emf);
    }
    this.clearMetrics();
    return this;
  }

  values(name: string): number[] {
    return this.flushed.filter((e) => name in e).map((e) => e[name] as number);
  }
}

/** A Powertools logger whose JSON lines are collected in `lines` (the logger prints through its `console`). */
export function capturedLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = new Logger({ serviceName: "test", logLevel: "DEBUG" });
  const sink = {
    log: (s: string) => lines.push(s),
    info: (s: string) => lines.push(s),
    warn: (s: string) => lines.push(s),
    error: (s: string) => lines.push(s),
    debug: (s: string) => lines.push(s),
  };
  (logger as unknown as { console: typeof sink }).console = sink;
  return { logger, lines };
}
