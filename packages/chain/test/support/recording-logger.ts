// A ChainLogger that keeps what it was told, for assertions.
import type { ChainLogger } from "../../src/logger.ts";

export interface LogLine {
  level: "info" | "warn" | "error";
  message: string;
  details?: Record<string, unknown>;
}

export function recordingLogger(): ChainLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (message, details) => lines.push({ level: "info", message, details }),
    warn: (message, details) => lines.push({ level: "warn", message, details }),
    error: (message, details) => lines.push({ level: "error", message, details }),
  };
}
