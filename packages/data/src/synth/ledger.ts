// The generation budget's ledger: one JSON document per stage with every request id's reservation or charge, read and
// written with optimistic concurrency (an ETag-conditional S3 put, or a lock file locally), so concurrent Lambdas and
// CLI runs never overspend. Spend is reserved before a call and settled after; a request id that was charged is never
// generated again (duplicate delivery), and an attempt that died mid-call stays counted as spent.
import { open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { z } from "zod";

const EntrySchema = z.object({
  state: z.enum(["reserved", "charged", "released"]),
  model: z.string(),
  usd: z.number().min(0),
  /** ISO time of the last change. */
  at: z.string(),
  /** A reservation older than this is an attempt that died; it stays counted and a new attempt may start. */
  leaseUntil: z.string().optional(),
  attempts: z.number().int().min(1).default(1),
  /** Where the accepted output lives (file path or S3 key), so a redelivered request can point at it. */
  output: z.string().optional(),
  outcome: z.string().optional(),
});
export type LedgerEntry = z.infer<typeof EntrySchema>;

const DocumentSchema = z.object({
  schemaVersion: z.literal(1),
  stage: z.string(),
  entries: z.record(z.string(), EntrySchema),
  /** Spend of months whose entries were pruned. */
  pastMonths: z.record(z.string(), z.number()).default({}),
  /** Alerts already sent, by period key ("day:2026-11-30", "month:2026-11"). */
  alerts: z.record(z.string(), z.string()).default({}),
});
export type LedgerDocument = z.infer<typeof DocumentSchema>;

/** Where the ledger document is kept. `write` returns false when someone else wrote since `read` (retry). */
export interface LedgerStore {
  read(): Promise<{ document?: unknown; version?: string }>;
  write(document: LedgerDocument, version: string | undefined): Promise<boolean>;
  readonly location: string;
}

export interface BudgetCaps {
  dayUsd: number;
  monthUsd: number;
}

export type Reservation =
  | { status: "reserved"; spentDayUsd: number; spentMonthUsd: number }
  /** Charged earlier: do not generate again. */
  | { status: "done"; entry: LedgerEntry }
  /** Another worker holds a live reservation for this id. */
  | { status: "in-progress" }
  | { status: "over-budget"; period: "day" | "month"; capUsd: number; spentUsd: number; alert: boolean };

export interface SpendSummary {
  day: string;
  month: string;
  spentDayUsd: number;
  spentMonthUsd: number;
  reservedUsd: number;
  caps: BudgetCaps;
}

const dayOf = (d: Date) => d.toISOString().slice(0, 10);
const monthOf = (d: Date) => d.toISOString().slice(0, 7);

export class BudgetLedger {
  constructor(
    private readonly store: LedgerStore,
    private readonly stage: string,
    readonly caps: BudgetCaps,
    private readonly options: { leaseSeconds?: number; now?: () => Date } = {},
  ) {}

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Reserves `usd` for `requestId` unless that would cross the day or month cap. */
  reserve(requestId: string, model: string, usd: number): Promise<Reservation> {
    return this.update<Reservation>((doc, now) => {
      const existing = doc.entries[requestId];
      let attempts = 1;
      if (existing?.state === "charged") return { result: { status: "done", entry: existing } };
      if (existing?.state === "reserved") {
        if (existing.leaseUntil && Date.parse(existing.leaseUntil) > now.getTime())
          return { result: { status: "in-progress" } };
        // The earlier attempt died mid-call: the provider may have billed it, so its reservation stays spent.
        doc.entries[`${requestId}#lost-${existing.attempts}`] = {
          ...existing,
          state: "charged",
          outcome: "attempt lost",
        };
        attempts = existing.attempts + 1;
      }
      const spent = spending(doc, now);
      for (const [period, cap, already] of [
        ["day", this.caps.dayUsd, spent.day],
        ["month", this.caps.monthUsd, spent.month],
      ] as const) {
        if (already + usd > cap + 1e-9) {
          const key = period === "day" ? `day:${dayOf(now)}` : `month:${monthOf(now)}`;
          const alert = !doc.alerts[key];
          doc.alerts[key] = now.toISOString();
          return { result: { status: "over-budget", period, capUsd: cap, spentUsd: already, alert }, write: alert };
        }
      }
      const lease = new Date(now.getTime() + (this.options.leaseSeconds ?? 900) * 1000);
      doc.entries[requestId] = {
        state: "reserved",
        model,
        usd,
        at: now.toISOString(),
        leaseUntil: lease.toISOString(),
        attempts,
      };
      return { result: { status: "reserved", spentDayUsd: spent.day + usd, spentMonthUsd: spent.month + usd } };
    });
  }

  /** Records the call's actual cost (0 releases it: nothing was billed). */
  async settle(requestId: string, usd: number, outcome: string, output?: string): Promise<void> {
    await this.update((doc, now) => {
      const e = doc.entries[requestId];
      if (!e) throw new Error(`ledger has no reservation for ${requestId}`);
      doc.entries[requestId] = {
        state: usd > 0 || output ? "charged" : "released",
        model: e.model,
        usd,
        at: now.toISOString(),
        attempts: e.attempts,
        outcome,
        ...(output ? { output } : {}),
      };
      return { result: undefined };
    });
  }

  async summary(): Promise<SpendSummary> {
    const { document } = await this.store.read();
    const doc = document === undefined ? emptyDocument(this.stage) : DocumentSchema.parse(document);
    const now = this.now();
    const s = spending(doc, now);
    const reservedUsd = Object.values(doc.entries)
      .filter((e) => e.state === "reserved")
      .reduce((t, e) => t + e.usd, 0);
    return {
      day: dayOf(now),
      month: monthOf(now),
      spentDayUsd: s.day,
      spentMonthUsd: s.month,
      reservedUsd,
      caps: this.caps,
    };
  }

  /** Updates from this process go one at a time; the store's conditional write arbitrates between processes. */
  #tail: Promise<unknown> = Promise.resolve();

  private update<T>(change: (doc: LedgerDocument, now: Date) => { result: T; write?: boolean }): Promise<T> {
    const run = this.#tail.then(() => this.#update(change));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #update<T>(change: (doc: LedgerDocument, now: Date) => { result: T; write?: boolean }): Promise<T> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const { document, version } = await this.store.read();
      const doc = document === undefined ? emptyDocument(this.stage) : parseDocument(document, this.store.location);
      const now = this.now();
      prune(doc, now);
      const { result, write = true } = change(doc, now);
      if (!write) return result;
      if (await this.store.write(doc, version)) return result;
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 40 * (attempt + 1)));
    }
    throw new Error(`budget ledger ${this.store.location}: too many concurrent writers; try again`);
  }
}

function emptyDocument(stage: string): LedgerDocument {
  return { schemaVersion: 1, stage, entries: {}, pastMonths: {}, alerts: {} };
}

function parseDocument(json: unknown, location: string): LedgerDocument {
  const parsed = DocumentSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(
      `budget ledger ${location} is not a valid ledger (${parsed.error.issues[0]?.message}); refusing to spend until it is fixed or moved aside`,
    );
  }
  return parsed.data;
}

/** Spend counts charged and still-reserved entries (a reservation is money that may already be gone). */
function spending(doc: LedgerDocument, now: Date): { day: number; month: number } {
  const day = dayOf(now);
  const month = monthOf(now);
  let d = 0;
  let m = doc.pastMonths[month] ?? 0;
  for (const e of Object.values(doc.entries)) {
    if (e.state === "released") continue;
    if (e.at.startsWith(month)) m += e.usd;
    if (e.at.startsWith(day)) d += e.usd;
  }
  return { day: d, month: m };
}

/** Folds entries of earlier months into per-month totals; keeps the document small. */
function prune(doc: LedgerDocument, now: Date): void {
  const month = monthOf(now);
  for (const [id, e] of Object.entries(doc.entries)) {
    const m = e.at.slice(0, 7);
    if (m < month && e.state !== "reserved") {
      if (e.state === "charged") doc.pastMonths[m] = (doc.pastMonths[m] ?? 0) + e.usd;
      delete doc.entries[id];
    }
  }
  for (const key of Object.keys(doc.alerts)) if (!key.includes(month)) delete doc.alerts[key];
}

/** The ledger in a local JSON file, serialized across processes with an exclusive lock file. */
export class FileLedgerStore implements LedgerStore {
  constructor(readonly location: string) {}

  async read(): Promise<{ document?: unknown; version?: string }> {
    const text = await readFile(this.location, "utf8").catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return undefined;
      throw e;
    });
    if (text === undefined) return {};
    try {
      return { document: JSON.parse(text), version: text };
    } catch {
      throw new Error(`budget ledger ${this.location} is not JSON; refusing to spend until it is fixed or moved aside`);
    }
  }

  async write(document: LedgerDocument, version: string | undefined): Promise<boolean> {
    const lock = `${this.location}.lock`;
    const handle = await open(lock, "wx").catch((e: NodeJS.ErrnoException) => {
      if (e.code === "EEXIST") return undefined;
      throw e;
    });
    if (!handle) return false;
    try {
      const current = await readFile(this.location, "utf8").catch(() => undefined);
      if (current !== version) return false;
      const tmp = `${this.location}.tmp-${process.pid}`;
      await writeFile(tmp, `${JSON.stringify(document, null, 1)}\n`);
      await rename(tmp, this.location);
      return true;
    } finally {
      await handle.close();
      await rm(lock, { force: true });
    }
  }
}
