/**
 * The wrapper around a service's backend: every method the service declares goes through the backend's
 * resilience policy and is recorded (count, outcome, latency, a trace span). Services declare their methods'
 * kinds in their own folder (`calls.ts`); the server supplies the observer through the OpenContext, so no
 * service knows about metrics or tracing.
 */
import type { BackendPolicy, CallRecorder, CircuitStateName } from "./resilience.js";

export type { CallOutcome, CallSpan } from "./resilience.js";

/**
 * How a backend method may be treated: `idempotent` calls are timed and retried on transient failures, `once`
 * calls are timed and never retried (a retry could do the work twice), `untimed` calls are neither (they bound
 * their own time or consume a stream: uploads, transactions, long-polls).
 */
export type CallKind = "idempotent" | "once" | "untimed";

/** The kind of each guarded method of a backend interface; methods not listed are passed through untouched. */
export type CallKinds<T> = {
  readonly [K in keyof T]?: T[K] extends ((...args: never[]) => Promise<unknown>) | undefined ? CallKind : never;
};

/** What the server records about the calls of one (service, backend): each attempt, and breaker transitions. */
export interface BackendSeries extends CallRecorder {
  circuit(state: CircuitStateName): void;
}

export interface BackendObserver {
  backend(service: string, backend: string): BackendSeries;
}

const POLICY = Symbol("mikcar.policy");

/** The policy of a guarded backend (for health and /stats), undefined for a bare one. */
export function policyOf(backend: object): BackendPolicy | undefined {
  return (backend as { [POLICY]?: BackendPolicy })[POLICY];
}

/**
 * The backend with its declared methods guarded and recorded. Other members (name, features, ping, watch, …) are
 * forwarded to the original object, bound to it, so classes with private fields keep working.
 *
 * @example
 * const backend = guardBackend(await openKvBackend(url), KV_CALLS, policy, series);
 */
export function guardBackend<T extends object>(
  backend: T,
  kinds: CallKinds<T>,
  policy: BackendPolicy,
  series: BackendSeries | undefined,
): T {
  const out: Record<string | symbol, unknown> = {};
  const seen = new Set<string>();
  for (let o: object | null = backend; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === "constructor" || seen.has(name)) continue;
      seen.add(name);
      const value = (backend as Record<string, unknown>)[name];
      const kind = (kinds as Record<string, CallKind | undefined>)[name];
      if (typeof value === "function" && kind) out[name] = guarded(name, value as AnyFn, kind);
      else if (typeof value === "function") out[name] = (value as AnyFn).bind(backend);
      else
        Object.defineProperty(out, name, { get: () => (backend as Record<string, unknown>)[name], enumerable: true });
    }
  }
  out[POLICY] = policy;
  return out as T;

  function guarded(name: string, fn: AnyFn, kind: CallKind): AnyFn {
    const idempotent = kind === "idempotent";
    const timed = kind !== "untimed";
    return (...args: unknown[]) =>
      policy.run(() => fn.apply(backend, args) as Promise<unknown>, idempotent, timed, series, name);
  }
}

type AnyFn = (...args: unknown[]) => unknown;

export type DeliveryOutcome = "acked" | "redelivered" | "dead-lettered";
export type ScriptWorkerState = "busy" | "idle" | "waiting";

/** Figures only some services have, recorded by the server when it observes (metrics on). */
export interface ServiceObserver {
  queueDelivery(backend: string, outcome: DeliveryOutcome, count: number): void;
  /** Registers a reader of the script worker pool, called at each scrape. */
  scriptWorkers(read: () => Record<ScriptWorkerState, number>): void;
}

/** Carries a guarded backend's policy over to a decorator of it. */
export function withPolicyOf<T extends object>(from: object, to: T): T {
  const p = policyOf(from);
  if (p) (to as { [POLICY]?: BackendPolicy })[POLICY] = p;
  return to;
}
