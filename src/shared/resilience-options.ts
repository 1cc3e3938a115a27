/**
 * The resilience settings of a service's backend and the options that set them (`--kv-call-timeout`,
 * `KV_RETRIES`, a config file's `resiliency.kv.retries`), declared once for every service.
 */
import type { OptionSpec, OptionValue } from "./option-spec.js";

export interface ResilienceSettings {
  /** Time one backend call may take before it fails with 504; 0 = no limit. */
  callTimeoutMs: number;
  /** Extra attempts for idempotent calls that failed transiently (503, timeout); 0 = none. */
  retries: number;
  /** First backoff delay; each retry doubles it (with decorrelated jitter), up to `retryMaxDelayMs`. */
  retryDelayMs: number;
  retryMaxDelayMs: number;
  /** Consecutive failures that open the breaker; 0 = this rule off. */
  breakerFailures: number;
  /** Percentage of failed calls among the last `breakerWindow` calls that opens it; 0 = this rule off. */
  breakerPercent: number;
  breakerWindow: number;
  /** Time an open breaker waits before letting one probe call through. */
  halfOpenAfterMs: number;
}

export const DEFAULT_RESILIENCE: ResilienceSettings = {
  callTimeoutMs: 10_000,
  retries: 2,
  retryDelayMs: 50,
  retryMaxDelayMs: 1_000,
  breakerFailures: 5,
  breakerPercent: 0,
  breakerWindow: 20,
  halfOpenAfterMs: 10_000,
};

/**
 * The resilience options every service accepts (`--kv-call-timeout`, `KV_RETRIES`, …), declared once and merged
 * into each module's own options. The keys are also the keys of a config file's `resiliency.<service>` section.
 */
export function resilienceOptions(service: string): Record<string, OptionSpec> {
  const env = (s: string) => `${service.toUpperCase()}_${s}`;
  const d = DEFAULT_RESILIENCE;
  return {
    "call-timeout": {
      type: "duration",
      max: 3_600_000,
      env: env("CALL_TIMEOUT"),
      description: "time one backend call may take (0 = none; uploads, transactions and long-polls are exempt)",
      default: d.callTimeoutMs,
    },
    retries: {
      type: "integer",
      min: 0,
      max: 10,
      env: env("RETRIES"),
      description: "retries of an idempotent backend call that failed transiently",
      default: d.retries,
    },
    "retry-delay": {
      type: "duration",
      bare: "ms",
      min: 1,
      max: 60_000,
      env: env("RETRY_DELAY"),
      description: "first retry backoff, doubled each time with jitter",
      default: d.retryDelayMs,
    },
    "retry-max-delay": {
      type: "duration",
      bare: "ms",
      min: 1,
      max: 600_000,
      env: env("RETRY_MAX_DELAY"),
      description: "longest retry backoff",
      default: d.retryMaxDelayMs,
    },
    "breaker-failures": {
      type: "integer",
      min: 0,
      max: 100_000,
      env: env("BREAKER_FAILURES"),
      description: "consecutive backend failures that open the circuit breaker (0 = rule off)",
      default: d.breakerFailures,
    },
    "breaker-percent": {
      type: "integer",
      min: 0,
      max: 100,
      env: env("BREAKER_PERCENT"),
      description: "percentage of failures among the last --<service>-breaker-window calls that opens it (0 = off)",
      default: d.breakerPercent,
    },
    "breaker-window": {
      type: "integer",
      min: 2,
      max: 100_000,
      env: env("BREAKER_WINDOW"),
      description: "calls the failure percentage is taken over",
      default: d.breakerWindow,
    },
    "breaker-half-open": {
      type: "duration",
      min: 1,
      max: 3_600_000,
      env: env("BREAKER_HALF_OPEN"),
      description: "time an open breaker waits before one probe call",
      default: d.halfOpenAfterMs,
    },
  };
}

/** The option keys of resilienceOptions(), to tell them apart from a service's own. */
export const RESILIENCE_KEYS: readonly string[] = Object.keys(resilienceOptions("x"));

/** Settings from resolved option values (durations in ms); missing values take the defaults. */
export function resilienceSettings(v: Readonly<Record<string, OptionValue | undefined>>): ResilienceSettings {
  const n = (k: string, dflt: number) => (typeof v[k] === "number" ? (v[k] as number) : dflt);
  const d = DEFAULT_RESILIENCE;
  return {
    callTimeoutMs: n("call-timeout", d.callTimeoutMs),
    retries: n("retries", d.retries),
    retryDelayMs: n("retry-delay", d.retryDelayMs),
    retryMaxDelayMs: Math.max(n("retry-max-delay", d.retryMaxDelayMs), n("retry-delay", d.retryDelayMs)),
    breakerFailures: n("breaker-failures", d.breakerFailures),
    breakerPercent: n("breaker-percent", d.breakerPercent),
    breakerWindow: n("breaker-window", d.breakerWindow),
    halfOpenAfterMs: n("breaker-half-open", d.halfOpenAfterMs),
  };
}
