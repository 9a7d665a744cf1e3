// The logging surface chain code needs. Powertools' Logger and a console adapter both satisfy it.
export interface ChainLogger {
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

export const silentLogger: ChainLogger = { info() {}, warn() {}, error() {} };

/** Writes one line per message to stderr (CLI use); keeps stdout for command output. */
export const stderrLogger: ChainLogger = {
  info: (m, d) => process.stderr.write(`${m}${d ? ` ${JSON.stringify(d)}` : ""}\n`),
  warn: (m, d) => process.stderr.write(`warning: ${m}${d ? ` ${JSON.stringify(d)}` : ""}\n`),
  error: (m, d) => process.stderr.write(`error: ${m}${d ? ` ${JSON.stringify(d)}` : ""}\n`),
};
