// `roadwork decay`: where the submitted model stands on the reward decay clock, and what comes next.
import { readFile } from "node:fs/promises";
import type { ModelRecord } from "@roadwork/lifecycle";
import { defineCommand, UsageError } from "../command.ts";

const DAY_MS = 86_400_000;

export const command = defineCommand({
  name: "decay",
  summary: "show the reward decay status of the submitted model",
  usage: "(--submission-time <unix s> | --record <file | s3://bucket/key>) [options]",
  description: `Prints days since submission, the reward factor (assumed linear from 100% at day 45 to 0 at day 90), the next alert
and when to retrain. The record is the models bucket's models/submission.json (AWS credentials from the environment).`,
  options: {
    "submission-time": { type: "string", value: "<unix s>", help: "the model card's submission_time" },
    record: { type: "string", value: "<file|s3://…>", help: "a model record (models/submission.json)" },
    now: { type: "string", value: "<unix s|ISO>", help: "evaluate at this time instead of now" },
    "full-days": { type: "string", value: "<days>", help: "days of full reward (default 45)" },
    "zero-days": { type: "string", value: "<days>", help: "day the reward reaches zero (default 90)" },
    "lead-days": { type: "string", value: "<days>", help: "retrain this many days before decay starts (default 10)" },
    json: { type: "boolean", help: "print JSON" },
  },
  async run({ values }) {
    if (Boolean(values["submission-time"]) === Boolean(values.record)) {
      throw new UsageError("give exactly one of --submission-time or --record");
    }
    const { DecayPolicy, ModelRecord } = await import("@roadwork/lifecycle");
    const num = (name: string, v: string | undefined) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got '${v}'`);
      return n;
    };
    const policy = new DecayPolicy({
      ...(values["full-days"] && { fullRewardDays: num("full-days", values["full-days"]) }),
      ...(values["zero-days"] && { zeroRewardDays: num("zero-days", values["zero-days"]) }),
      ...(values["lead-days"] && { retrainLeadDays: num("lead-days", values["lead-days"]) }),
    });

    let record: ModelRecord | undefined;
    let submissionTime: number;
    if (values.record) {
      record = await readRecord(values.record, ModelRecord);
      submissionTime = record.submissionTime;
    } else {
      submissionTime = Number(values["submission-time"]);
      if (!Number.isInteger(submissionTime) || submissionTime < 1_000_000_000 || submissionTime > 4_102_444_800) {
        throw new Error(`--submission-time must be unix seconds (10 digits), got '${values["submission-time"]}'`);
      }
    }
    const now = parseNow(values.now);
    const s = policy.status(submissionTime, now);
    const next = policy.nextAlert(s);
    const retrainAt = new Date(submissionTime * 1000 + policy.retrainDay() * DAY_MS);
    const report = {
      ...(record && { version: record.version, repo: record.hfRepo, commit: record.hfCommitSha }),
      submissionTime,
      submittedAt: new Date(submissionTime * 1000).toISOString(),
      daysSinceSubmission: round(s.daysSinceSubmission),
      rewardFactor: round(s.rewardFactor),
      phase: s.phase,
      daysUntilDecay: round(s.daysUntilDecay),
      daysUntilZero: round(s.daysUntilZero),
      nextAlert: next
        ? {
            id: next.alert.id,
            inDays: round(next.inDays),
            at: new Date(now.getTime() + next.inDays * DAY_MS).toISOString(),
          }
        : null,
      retrain: policy.shouldRetrain(s)
        ? { due: true, since: retrainAt.toISOString() }
        : { due: false, at: retrainAt.toISOString(), inDays: round(policy.daysUntilRetrain(s)) },
    };
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
      return 0;
    }
    const lines = [
      ...(record ? [`model            ${record.version}  ${record.hfRepo}@${record.hfCommitSha.slice(0, 12)}`] : []),
      `submitted        ${report.submittedAt} (${submissionTime})`,
      `days since       ${report.daysSinceSubmission.toFixed(2)}`,
      `reward factor    ${(report.rewardFactor * 100).toFixed(1)}%  (${report.phase})`,
      `decay starts in  ${report.daysUntilDecay.toFixed(2)} days; zero in ${report.daysUntilZero.toFixed(2)} days`,
      `next alert       ${next ? `${next.alert.id} in ${next.inDays.toFixed(2)} days (${report.nextAlert?.at})` : "none left"}`,
      `retrain          ${report.retrain.due ? `due now (since ${retrainAt.toISOString()})` : `in ${(report.retrain as { inDays: number }).inDays.toFixed(2)} days (${retrainAt.toISOString()})`}`,
    ];
    console.log(lines.join("\n"));
    return 0;
  },
});

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function parseNow(v: string | undefined): Date {
  if (v === undefined) return new Date();
  const d = /^\d+$/.test(v) ? new Date(Number(v) * 1000) : new Date(v);
  if (Number.isNaN(d.getTime())) throw new Error(`--now must be unix seconds or an ISO date, got '${v}'`);
  return d;
}

async function readRecord(source: string, schema: typeof ModelRecord): Promise<ModelRecord> {
  let text: string;
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(source);
  if (m) {
    const { GetObjectCommand, S3Client } = await import("@aws-sdk/client-s3");
    const s3 = new S3Client({});
    try {
      const res = await s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }));
      text = (await res.Body?.transformToString("utf-8")) ?? "";
    } catch (error) {
      throw new Error(`cannot read ${source}: ${(error as Error).name}: ${(error as Error).message}`);
    } finally {
      s3.destroy();
    }
  } else {
    try {
      text = await readFile(source, "utf8");
    } catch (error) {
      throw new Error(`cannot read --record ${source}: ${(error as NodeJS.ErrnoException).code ?? "read error"}`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${source} is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new Error(`${source} is not a model record: ${i?.path.join(".")}: ${i?.message}`);
  }
  return parsed.data;
}
