// Structured logging for the axon: one JSON object per line. Callers pass fields, never secrets or image bytes.

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface AxonLogger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createJsonLogger(
  options: { level?: LogLevel; write?: (line: string) => void; base?: LogFields } = {},
): AxonLogger {
  const min = rank[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const base = options.base ?? {};
  const log = (level: LogLevel, message: string, fields?: LogFields) => {
    if (rank[level] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, message, ...base, ...fields }, jsonSafe));
  };
  return {
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
  };
}

/** Discards everything: for tests that assert on behaviour, not on log lines. */
export const silentLogger: AxonLogger = { debug() {}, info() {}, warn() {}, error() {} };

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
