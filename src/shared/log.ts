/**
 * Structured logging: one JSON object per line on stderr. Callers pass fields, never secrets: tokens, URLs with
 * credentials and secret values must be redacted before they reach a log call (see `redactUrl`).
 */
import { redactText } from "./redact.js";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

/** Creates a logger writing JSON lines at or above `level` (default: LOG_LEVEL, else "info"). */
export function createLogger(
  level: LogLevel = (process.env.LOG_LEVEL as LogLevel) ?? "info",
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const min = order[level] ?? order.info;
  const emit = (lvl: LogLevel, event: string, fields?: Record<string, unknown>) => {
    if (order[lvl] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, event, ...fields }) + "\n");
  };
  return {
    debug: (e, f) => emit("debug", e, f),
    info: (e, f) => emit("info", e, f),
    warn: (e, f) => emit("warn", e, f),
    error: (e, f) => emit("error", e, f),
  };
}

export { redactUrl } from "./redact.js";

/** Error text for logs: message and code only, credentials in URLs redacted. */
export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      error: redactText(err.message),
      ...(code !== undefined ? { code } : {}),
    };
  }
  return { error: String(err) };
}
