// A validator simulator: N validators send challenges to one miner at a steady rate and score every answer with
// the subnet's reward; an optional attacker mixes hostile requests in, in alternating on/off windows so honest
// latency can be compared with and without attack. Transport is injected: the CLI signs real requests with the
// protocol's Dendrite; this module only schedules, scores and counts.
import { CHALLENGE_FORMATS, type ChallengeFormat } from "@roadwork/data";
import { bankersRound, matthews } from "../metrics.ts";
import { emaUpdate, NO_PREDICTION, PerformanceTracker, scoreChallenge } from "../reward.ts";
import type { Challenge } from "./challenges.ts";

export interface ChallengeAnswer {
  /** HTTP status as the dendrite reports it (200 on success). */
  status: number;
  /** The prediction a validator reads: -1 unless a 200 arrived with a number. */
  prediction: number;
  latencyMs: number;
}

export interface SimulatedValidator {
  name: string;
  hotkey: string;
  challenge(image: Uint8Array): Promise<ChallengeAnswer>;
}

export interface AttackResult {
  status: number;
  latencyMs: number;
}

export interface Attacker {
  kinds: readonly string[];
  send(kind: string): Promise<AttackResult>;
}

export interface SimulatorOptions {
  validators: SimulatedValidator[];
  challenges: { next(): Promise<Challenge> };
  /** Honest challenges per second, all validators together. */
  rate: number;
  attacker?: Attacker;
  /** Attack requests per second while an attack window is on (default 4 × rate). */
  attackRate?: number;
  /** Length of the alternating attack-off / attack-on windows (default 5 s); "always" keeps the attack on. */
  attackWindowMs?: number | "always";
  /** Most honest challenges in flight at once (default 16). */
  maxInFlight?: number;
  /** Stop issuing after this many honest challenges (a fixed, reproducible sample); `run` then returns early. */
  maxChallenges?: number;
  onError?: (error: unknown) => void;
}

export interface ValidatorRow {
  name: string;
  hotkey: string;
  sent: number;
  answered: number;
  errors: number;
  lastReward: number;
  meanReward: number;
  ema: number;
  accuracy10: number;
  mcc100: number;
  p50: number;
  p99: number;
}

export interface AttackRow {
  kind: string;
  sent: number;
  rejected: number;
  /** Answered 200: a hostile request got through. */
  leaked: number;
  statuses: Record<string, number>;
}

/** Challenges of one validator format (spec §4.7) and how the miner did on them. */
export interface FormatRow {
  format: ChallengeFormat;
  sent: number;
  /** Share of all honest challenges sent. */
  share: number;
  answered: number;
  accuracy: number;
  mcc: number;
  meanReward: number;
}

export interface Scoreboard {
  elapsedS: number;
  validators: ValidatorRow[];
  /** Per validator format, in canonical order; only formats that were sent. */
  formats: FormatRow[];
  overall: {
    sent: number;
    answered: number;
    errors: number;
    meanReward: number;
    meanEma: number;
    accuracy: number;
    mcc: number;
    p50: number;
    p99: number;
    /** Honest latency percentiles split by whether an attack window was on when the request was sent. */
    honestNoAttack: { count: number; p50: number; p99: number };
    honestUnderAttack: { count: number; p50: number; p99: number };
  };
  attacks: AttackRow[];
  attackActive: boolean;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

interface ValidatorState {
  v: SimulatedValidator;
  tracker: PerformanceTracker;
  sent: number;
  answered: number;
  errors: number;
  rewards: number;
  lastReward: number;
  ema: number;
  latencies: number[];
}

export class ValidatorSimulator {
  readonly #opts: SimulatorOptions;
  readonly #states: ValidatorState[];
  readonly #attacks = new Map<string, AttackRow>();
  readonly #all: { pred: number; label: number }[] = [];
  readonly #byFormat = new Map<
    ChallengeFormat,
    { sent: number; rewards: number; results: { pred: number; label: number }[] }
  >();
  readonly #latNoAttack: number[] = [];
  readonly #latAttack: number[] = [];
  #timers: NodeJS.Timeout[] = [];
  #inFlight = new Set<Promise<void>>();
  #honestInFlight = 0;
  #next = 0;
  #startedAt = 0;
  #running = false;
  #attackKind = 0;
  #issued = 0;
  #drained: (() => void) | undefined;

  constructor(options: SimulatorOptions) {
    if (options.validators.length === 0) throw new Error("the simulator needs at least one validator");
    if (!(options.rate > 0)) throw new Error("rate must be positive (challenges per second)");
    this.#opts = options;
    this.#states = options.validators.map((v) => ({
      v,
      tracker: new PerformanceTracker(),
      sent: 0,
      answered: 0,
      errors: 0,
      rewards: 0,
      lastReward: 0,
      ema: 0,
      latencies: [],
    }));
    for (const kind of options.attacker?.kinds ?? [])
      this.#attacks.set(kind, { kind, sent: 0, rejected: 0, leaked: 0, statuses: {} });
  }

  /** Whether the attacker is sending right now. */
  get attackActive(): boolean {
    const w = this.#opts.attackWindowMs ?? 5000;
    if (!this.#opts.attacker || !this.#running) return false;
    if (w === "always") return true;
    return Math.floor((Date.now() - this.#startedAt) / w) % 2 === 1;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#startedAt = Date.now();
    this.#timers.push(setInterval(() => this.#tick(), 1000 / this.#opts.rate));
    if (this.#opts.attacker) {
      const attackRate = this.#opts.attackRate ?? this.#opts.rate * 4;
      this.#timers.push(setInterval(() => this.#attackTick(), 1000 / attackRate));
    }
  }

  /** Stops sending and waits for the requests in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Runs for `seconds` (or until `signal` aborts) and returns the final scoreboard. */
  async run(seconds: number, signal?: AbortSignal): Promise<Scoreboard> {
    this.start();
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(done, seconds * 1000);
      this.#drained = done;
      signal?.addEventListener("abort", done);
    });
    await this.stop();
    return this.scoreboard();
  }

  #track(p: Promise<void>): void {
    this.#inFlight.add(p);
    p.finally(() => this.#inFlight.delete(p)).catch(() => {});
  }

  #tick(): void {
    if (!this.#running || this.#honestInFlight >= (this.#opts.maxInFlight ?? 16)) return;
    const max = this.#opts.maxChallenges;
    if (max !== undefined && this.#issued >= max) return;
    this.#issued++;
    const state = this.#states[this.#next++ % this.#states.length]!;
    this.#honestInFlight++;
    this.#track(
      this.#challenge(state)
        .catch((e) => this.#opts.onError?.(e))
        .finally(() => {
          this.#honestInFlight--;
          if (max !== undefined && this.#issued >= max && this.#honestInFlight === 0) this.#drained?.();
        }),
    );
  }

  async #challenge(state: ValidatorState): Promise<void> {
    const challenge = await this.#opts.challenges.next();
    const underAttack = this.attackActive;
    state.sent++;
    let perFormat = this.#byFormat.get(challenge.format);
    if (!perFormat) {
      perFormat = { sent: 0, rewards: 0, results: [] };
      this.#byFormat.set(challenge.format, perFormat);
    }
    perFormat.sent++;
    const answer = await state.v.challenge(challenge.image);
    const ok = answer.status === 200 && answer.prediction !== NO_PREDICTION;
    const prediction = ok ? answer.prediction : NO_PREDICTION;
    const reward = scoreChallenge(state.tracker, prediction, challenge.label, state.v.hotkey);
    perFormat.rewards += reward;
    if (ok) perFormat.results.push({ pred: bankersRound(prediction), label: challenge.label });
    state.lastReward = reward;
    state.rewards += reward;
    state.ema = emaUpdate(state.ema, reward);
    if (ok) {
      state.answered++;
      state.latencies.push(answer.latencyMs);
      (underAttack ? this.#latAttack : this.#latNoAttack).push(answer.latencyMs);
      this.#all.push({ pred: bankersRound(prediction), label: challenge.label });
    } else state.errors++;
  }

  #attackTick(): void {
    const attacker = this.#opts.attacker;
    if (!attacker || !this.#running || !this.attackActive || this.#inFlight.size > 256) return;
    const kind = attacker.kinds[this.#attackKind++ % attacker.kinds.length]!;
    const row = this.#attacks.get(kind)!;
    row.sent++;
    this.#track(
      attacker
        .send(kind)
        .then((r) => {
          if (r.status === 200) row.leaked++;
          else row.rejected++;
          row.statuses[String(r.status)] = (row.statuses[String(r.status)] ?? 0) + 1;
        })
        .catch((e) => {
          row.rejected++;
          row.statuses.error = (row.statuses.error ?? 0) + 1;
          this.#opts.onError?.(e);
        }),
    );
  }

  scoreboard(): Scoreboard {
    const validators = this.#states.map((s): ValidatorRow => {
      const m100 = s.tracker.metrics(100);
      const m10 = s.tracker.metrics(10);
      return {
        name: s.v.name,
        hotkey: s.v.hotkey,
        sent: s.sent,
        answered: s.answered,
        errors: s.errors,
        lastReward: s.lastReward,
        meanReward: s.sent === 0 ? 0 : s.rewards / s.sent,
        ema: s.ema,
        accuracy10: m10.accuracy,
        mcc100: m100.mcc,
        p50: percentile(s.latencies, 50),
        p99: percentile(s.latencies, 99),
      };
    });
    const latencies = this.#states.flatMap((s) => s.latencies);
    const sent = validators.reduce((a, v) => a + v.sent, 0);
    const correct = this.#all.filter((x) => x.pred === x.label).length;
    const split = (l: number[]) => ({ count: l.length, p50: percentile(l, 50), p99: percentile(l, 99) });
    const formats = CHALLENGE_FORMATS.flatMap((format): FormatRow[] => {
      const f = this.#byFormat.get(format);
      if (!f) return [];
      const right = f.results.filter((x) => x.pred === x.label).length;
      return [
        {
          format,
          sent: f.sent,
          share: sent === 0 ? 0 : f.sent / sent,
          answered: f.results.length,
          accuracy: f.results.length === 0 ? 0 : right / f.results.length,
          mcc: matthews(
            f.results.map((x) => x.pred),
            f.results.map((x) => x.label),
          ),
          meanReward: f.sent === 0 ? 0 : f.rewards / f.sent,
        },
      ];
    });
    return {
      elapsedS: this.#startedAt === 0 ? 0 : (Date.now() - this.#startedAt) / 1000,
      validators,
      formats,
      overall: {
        sent,
        answered: validators.reduce((a, v) => a + v.answered, 0),
        errors: validators.reduce((a, v) => a + v.errors, 0),
        meanReward: sent === 0 ? 0 : this.#states.reduce((a, s) => a + s.rewards, 0) / sent,
        meanEma: validators.reduce((a, v) => a + v.ema, 0) / validators.length,
        accuracy: this.#all.length === 0 ? 0 : correct / this.#all.length,
        mcc: matthews(
          this.#all.map((x) => x.pred),
          this.#all.map((x) => x.label),
        ),
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        honestNoAttack: split(this.#latNoAttack),
        honestUnderAttack: split(this.#latAttack),
      },
      attacks: [...this.#attacks.values()].map((a) => ({ ...a, statuses: { ...a.statuses } })),
      attackActive: this.attackActive,
    };
  }
}

/** The validator-format mix (spec §4.7) and the miner's accuracy and MCC on each format. */
export function renderFormatMix(rows: readonly FormatRow[]): string[] {
  const label: Record<ChallengeFormat, string> = {
    jan: "jan 224 crop",
    apr: "apr letterbox",
    may: "may native",
  };
  return [
    `${"format".padEnd(14)} ${"sent".padStart(5)} ${"share".padStart(6)} ${"reward".padStart(7)} ${"acc".padStart(6)} ${"MCC".padStart(7)}`,
    ...rows.map(
      (r) =>
        `${label[r.format].padEnd(14)} ${String(r.sent).padStart(5)} ${`${(100 * r.share).toFixed(0)}%`.padStart(6)} ${f3(r.meanReward).padStart(7)} ${f3(r.accuracy).padStart(6)} ${f3(r.mcc).padStart(7)}`,
    ),
  ];
}

const f3 = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : "  -  ");
const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(1)}ms` : "-");

/** The scoreboard as text lines (for a TTY redraw or a log). */
export function renderScoreboard(b: Scoreboard, title = "roadwork local validators"): string[] {
  const lines = [
    `${title} — ${b.elapsedS.toFixed(0)}s${b.attacks.length ? (b.attackActive ? "  [attack ON]" : "  [attack off]") : ""}`,
    `${"validator".padEnd(14)} ${"sent".padStart(5)} ${"errors".padStart(6)} ${"reward".padStart(7)} ${"EMA".padStart(6)} ${"acc@10".padStart(6)} ${"MCC@100".padStart(7)} ${"p50".padStart(8)} ${"p99".padStart(8)}`,
  ];
  for (const v of b.validators) {
    lines.push(
      `${v.name.padEnd(14)} ${String(v.sent).padStart(5)} ${String(v.errors).padStart(6)} ${f3(v.lastReward).padStart(7)} ${f3(v.ema).padStart(6)} ${f3(v.accuracy10).padStart(6)} ${f3(v.mcc100).padStart(7)} ${ms(v.p50).padStart(8)} ${ms(v.p99).padStart(8)}`,
    );
  }
  const o = b.overall;
  lines.push(
    `${"overall".padEnd(14)} ${String(o.sent).padStart(5)} ${String(o.errors).padStart(6)} ${f3(o.meanReward).padStart(7)} ${f3(o.meanEma).padStart(6)} ${f3(o.accuracy).padStart(6)} ${f3(o.mcc).padStart(7)} ${ms(o.p50).padStart(8)} ${ms(o.p99).padStart(8)}`,
  );
  lines.push("  (reward: last per validator, mean per challenge overall; overall acc/MCC: all answered challenges)");
  if (b.formats.length > 0) lines.push(...renderFormatMix(b.formats));
  if (b.attacks.length > 0) {
    lines.push(
      `honest p50/p99 without attack ${ms(o.honestNoAttack.p50)}/${ms(o.honestNoAttack.p99)} (n=${o.honestNoAttack.count}), under attack ${ms(o.honestUnderAttack.p50)}/${ms(o.honestUnderAttack.p99)} (n=${o.honestUnderAttack.count})`,
    );
    const sent = b.attacks.reduce((a, r) => a + r.sent, 0);
    const rejected = b.attacks.reduce((a, r) => a + r.rejected, 0);
    const leaks = b.attacks.filter((r) => r.leaked > 0);
    lines.push(
      `attacks: ${rejected}/${sent} rejected${sent > 0 ? ` (${((100 * rejected) / sent).toFixed(1)}%)` : ""}${leaks.length ? `  LEAKS: ${leaks.map((r) => `${r.kind}×${r.leaked}`).join(", ")}` : ""}`,
    );
    for (const r of b.attacks) {
      const statuses = Object.entries(r.statuses)
        .map(([s, n]) => `${s}:${n}`)
        .join(" ");
      lines.push(
        `  ${r.kind.padEnd(20)} sent ${String(r.sent).padStart(5)}  rejected ${String(r.rejected).padStart(5)}  leaked ${r.leaked}  [${statuses}]`,
      );
    }
  }
  return lines;
}
