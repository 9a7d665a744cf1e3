// Runs the pipeline's state machine definition on this machine with aws-local-stepfunctions: every Task state is
// mapped to the same code AWS runs (ECS tasks and the step Lambda → the step functions; SendMessage and Publish →
// the injected SQS/SNS clients, i.e. the fauxqs emulator). Retry, Catch, Choice and timeouts are the interpreter's.
import { open, readFile, rm } from "node:fs/promises";
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { StateMachine } from "aws-local-stepfunctions";
import { type PipelineDefinition, TASK_INPUT_ENV, TASK_STEP_ENV, taskSteps } from "./definition.ts";
import { type PipelineContext, STEPS, type StepName } from "./steps.ts";

// aws-local-stepfunctions 3 targets Node 22 and calls Promise.withResolvers (Node ≥ 22); the project supports Node 20.
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

type StepFn = (input: unknown, ctx: PipelineContext) => Promise<unknown>;

export interface LocalRunOptions {
  definition: PipelineDefinition;
  ctx: PipelineContext;
  sqs: SQSClient;
  sns: SNSClient;
  /** Replace a step (tests inject failures and interruptions this way; the state machine stays the same). */
  steps?: Partial<Record<StepName, StepFn>>;
  /** Retry pauses in ms (default 0: the real intervals are minutes, meant for capacity to come back). */
  retryIntervalMs?: number;
  /** One line per state, with its figures. */
  print?: (line: string) => void;
}

export interface StateRecord {
  state: string;
  event: "entered" | "exited" | "retried" | "caught" | "failed";
  detail?: string;
}

export interface LocalRunResult {
  status: "succeeded" | "failed";
  output?: unknown;
  error?: { name: string; cause: unknown };
  states: StateRecord[];
  /** What each task state's step returned, by state name (the last attempt). */
  results: Record<string, unknown>;
}

/** The ECS task failed (container exited non-zero): the error Step Functions reports for runTask.sync. */
class TaskFailed extends Error {
  override name = "States.TaskFailed";
}

const f3 = (x: unknown) => (typeof x === "number" ? x.toFixed(3) : String(x));

/** One human line per step result. */
export function describeStep(step: string, r: Record<string, unknown>): string {
  switch (step) {
    case "version-dataset": {
      const d = r.dataset as { id: string; counts: Record<string, { total: number }>; added: number };
      return `dataset ${d.id.slice(0, 12)}: ${d.counts.train?.total} train / ${d.counts.val?.total} val / ${d.counts.test?.total} test (${d.added} images added to the store)`;
    }
    case "train": {
      const c = r.cache as { loaded: number; hits: number; misses: number };
      const v = r.val as { mcc: number };
      const t = r.test as { mcc: number; accuracy: number };
      const resumed = r.resumed as { interruptions: number; cachedVectors: number } | undefined;
      return `challenger ${r.version}: val MCC ${f3(v.mcc)}, test MCC ${f3(t.mcc)} acc ${f3(t.accuracy)}, threshold ${f3(r.threshold)}; embeddings ${c.hits} cached / ${c.misses} computed${resumed ? `; resumed after ${resumed.interruptions} interruption(s) with ${resumed.cachedVectors} vectors cached` : ""}`;
    }
    case "evaluate":
      return `evaluation set ${String(r.setId).slice(0, 12)} (${r.items} items${r.reused ? ", reused" : ""}): challenger ${r.challenger} vs champion ${r.champion ?? "none"}`;
    case "gate": {
      const g = r.gain as { observed: number; lower: number; upper: number } | null;
      const c = r.challenger as { version: string; reward: number };
      const p = r.champion as { version: string; reward: number } | null;
      return `${String(r.decision).toUpperCase()}: reward ${f3(c.reward)} vs ${p ? f3(p.reward) : "-"}${g ? `, gain ${f3(g.observed)} [${f3(g.lower)}, ${f3(g.upper)}]` : ""}; ${(r.reasons as string[]).join("; ")} (report ${r.report})`;
    }
    case "promote":
      return `models/current.json → ${r.version} (previous ${r.previous ?? "none"})${r.publish ? "; publish request ready" : ""}`;
    default:
      return JSON.stringify(r).slice(0, 200);
  }
}

export async function runLocal(input: Record<string, unknown>, options: LocalRunOptions): Promise<LocalRunResult> {
  const { definition, ctx } = options;
  const print = options.print ?? (() => {});
  const steps = { ...STEPS, ...options.steps } as Record<StepName, StepFn>;
  const results: Record<string, unknown> = {};
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [state, step] of Object.entries(taskSteps(definition))) {
    if (step === "publish") {
      handlers[state] = async (params) => {
        const p = params as { QueueUrl: string; MessageBody: string };
        const res = await options.sqs.send(
          new SendMessageCommand({ QueueUrl: p.QueueUrl, MessageBody: p.MessageBody }),
        );
        results[state] = { messageId: res.MessageId };
        print(`  ${state}: publish request ${res.MessageId} on ${p.QueueUrl}`);
        return { MessageId: res.MessageId, MD5OfMessageBody: res.MD5OfMessageBody };
      };
    } else if (step === "notify") {
      handlers[state] = async (params) => {
        const p = params as { TopicArn: string; Subject: string; Message: string };
        const res = await options.sns.send(
          new PublishCommand({ TopicArn: p.TopicArn, Subject: p.Subject, Message: p.Message }),
        );
        results[state] = { messageId: res.MessageId };
        print(`  ${state}: operator notified on ${p.TopicArn} (${res.MessageId})`);
        return { MessageId: res.MessageId };
      };
    } else if (
      String((definition.States as unknown as Record<string, { Resource?: string }>)[state]?.Resource).includes(":ecs:")
    ) {
      handlers[state] = async (params) => {
        const env = (
          params as { Overrides: { ContainerOverrides: { Environment: { Name: string; Value: string }[] }[] } }
        ).Overrides.ContainerOverrides[0]!.Environment;
        const name = env.find((e) => e.Name === TASK_STEP_ENV)!.Value as StepName;
        const taskInput = JSON.parse(env.find((e) => e.Name === TASK_INPUT_ENV)!.Value) as unknown;
        try {
          const r = await steps[name](taskInput, ctx);
          results[state] = r;
          print(`  ${state}: ${describeStep(name, r as Record<string, unknown>)}`);
        } catch (error) {
          // What runTask.sync reports when the container exits non-zero (a spot reclaim included).
          throw new TaskFailed(`${(error as Error).name}: ${(error as Error).message}`);
        }
        return { Tasks: [{ LastStatus: "STOPPED", Containers: [{ Name: "trainer", ExitCode: 0 }] }] };
      };
    } else {
      handlers[state] = async (params) => {
        const p = params as { step: StepName; input: unknown };
        const r = await steps[p.step](p.input, ctx);
        results[state] = r;
        print(`  ${state}: ${describeStep(p.step, r as Record<string, unknown>)}`);
        return r;
      };
    }
  }
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: true, checkPaths: true } });
  const retryIntervalOverrides: Record<string, number> = {};
  for (const name of Object.keys(handlers)) retryIntervalOverrides[name] = options.retryIntervalMs ?? 0;
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides },
  });
  const states: StateRecord[] = [];
  const watch = (async () => {
    for await (const e of execution.eventLogs) {
      if (!("state" in e)) continue;
      const s = e.state.name;
      if (e.type === "StateEntered") {
        states.push({ state: s, event: "entered" });
        print(`→ ${s}`);
      } else if (e.type === "StateExited") states.push({ state: s, event: "exited" });
      else if (e.type === "StateRetried") {
        const detail = `attempt ${e.retry.attempt} after ${e.retry.retrier.ErrorEquals.join("|")}`;
        states.push({ state: s, event: "retried", detail });
        print(`  ${s}: retry (${detail})`);
      } else if (e.type === "StateCaught") {
        states.push({ state: s, event: "caught", detail: e.catch.catcher.Next });
        print(`  ${s}: caught → ${e.catch.catcher.Next}`);
      } else if (e.type === "StateFailed") {
        states.push({ state: s, event: "failed", detail: `${e.Error}: ${String(e.Cause).slice(0, 300)}` });
        print(`  ${s}: failed: ${e.Error}: ${String(e.Cause).slice(0, 300)}`);
      }
    }
  })();
  try {
    const output = await execution.result;
    await watch;
    return { status: "succeeded", output, states, results };
  } catch (error) {
    await watch.catch(() => {});
    const e = error as Error & { cause?: unknown };
    const cause = e.cause instanceof Error ? `${e.cause.name}: ${e.cause.message}` : (e.cause ?? e.message);
    return { status: "failed", error: { name: e.name, cause }, states, results };
  }
}

/**
 * One execution at a time on a data directory: a lock file names the running execution. A trigger that finds it
 * held folds its request into that run (recorded beside the run) instead of starting a second one.
 */
export async function withLocalLock<T>(
  lockPath: string,
  runId: string,
  fold: (running: { runId: string; pid: number }) => Promise<void>,
  body: () => Promise<T>,
): Promise<{ ran: true; value: T } | { ran: false; foldedInto: string }> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(lockPath, "wx");
      await fh.writeFile(JSON.stringify({ runId, pid: process.pid, startedAt: new Date().toISOString() }));
      await fh.close();
      try {
        return { ran: true, value: await body() };
      } finally {
        await rm(lockPath, { force: true });
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const held = JSON.parse(await readFile(lockPath, "utf8").catch(() => "{}")) as { runId?: string; pid?: number };
      if (held.runId && held.pid && isAlive(held.pid)) {
        await fold({ runId: held.runId, pid: held.pid });
        return { ran: false, foldedInto: held.runId };
      }
      await rm(lockPath, { force: true }); // the holder died: a stale lock
    }
  }
  throw new Error(`could not take the pipeline lock ${lockPath}; remove it if no pipeline is running`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
