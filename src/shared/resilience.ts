/**
 * Resilience toward one backend: a call timeout, retries with exponential backoff and jitter (only for calls the
 * service declares idempotent), and a circuit breaker that opens after N consecutive failures or a failure ratio,
 * half-opens after a delay and lets one probe through.
 *
 * The breaker state machine and the backoff (exponential, decorrelated jitter) are cockatiel's. Two pieces are
 * ours because cockatiel's cost per call is paid by every request, and these run on the hot path (measured here
 * on a REST KV GET: ~26.5 µs of server CPU with cockatiel's retry, timeout and breaker composed, ~23.7 µs with
 * none): the timeout shares one timer per backend (a cockatiel timeout arms a timer and an AbortController per
 * call, ~15 µs), and the retry loop only starts after a first failure (cockatiel's retry wraps every call in an
 * async loop and an event-emitting executor, ~0.8 µs, for calls that nearly always succeed).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  CountBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IBackoffFactory,
  type IBreaker,
} from "cockatiel";
import { Deadlines } from "./deadlines.js";
import { isServerSide, SidecarError, sidecarError } from "./errors.js";
import type { ResilienceSettings } from "./resilience-options.js";

export type CircuitStateName = "closed" | "half-open" | "open";

/** `rejected`: the breaker refused the call; `timeout`: the call timeout fired; `error`: the backend failed. */
export type CallOutcome = "ok" | "error" | "timeout" | "rejected";

export interface CallSpan {
  end(err?: unknown): void;
}

/** Where each attempt at a backend call is recorded (metrics, a trace span). */
export interface CallRecorder {
  record(outcome: CallOutcome, seconds: number): void;
  /** A span for one attempt, child of the request being served; undefined when tracing is off. */
  span(method: string): CallSpan | undefined;
}

/** How a failed attempt counts: an answer such as NOT_FOUND is the backend working. */
export function outcomeOf(err: unknown): CallOutcome {
  if (isBreakerRejection(err)) return "rejected";
  if (err instanceof SidecarError) {
    if (err.kind.code === "GATEWAY_TIMEOUT") return "timeout";
    return err.kind.status >= 500 ? "error" : "ok";
  }
  return "error";
}

/** Opens when either rule says so: cockatiel's breakers each implement one rule. */
class EitherBreaker implements IBreaker {
  constructor(private readonly rules: IBreaker[]) {}
  get state(): unknown {
    return this.rules.map((r) => r.state);
  }
  set state(v: unknown) {
    (v as unknown[]).forEach((s, i) => {
      this.rules[i]!.state = s;
    });
  }
  success(state: CircuitState): void {
    for (const r of this.rules) r.success(state);
  }
  failure(state: CircuitState): boolean {
    let open = false;
    for (const r of this.rules) open = r.failure(state) || open;
    return open;
  }
}

/** Worth another attempt: the backend was unreachable or slow, not the request wrong. */
function transient(err: unknown): boolean {
  if (err instanceof BrokenCircuitError) return false;
  return err instanceof ConnectError && (err.code === Code.Unavailable || err.code === Code.DeadlineExceeded);
}

/**
 * The resilience policy of one (service, backend). `run` is called for every backend call the service declared;
 * `onState` hears every breaker transition (for the `mikcar_circuit_state` gauge).
 */
export class BackendPolicy {
  private readonly breaker: CircuitBreakerPolicy | undefined;
  private readonly backoff: IBackoffFactory<unknown> | undefined;
  private readonly deadlines: Deadlines | undefined;
  private openedAt = 0;

  constructor(
    readonly service: string,
    readonly backend: string,
    readonly settings: ResilienceSettings,
    onState?: (state: CircuitStateName) => void,
  ) {
    const s = settings;
    const rules: IBreaker[] = [];
    if (s.breakerFailures > 0) rules.push(new ConsecutiveBreaker(s.breakerFailures));
    if (s.breakerPercent > 0) {
      rules.push(
        new CountBreaker({
          threshold: s.breakerPercent / 100,
          size: s.breakerWindow,
          minimumNumberOfCalls: Math.max(2, Math.floor(s.breakerWindow / 2)),
        }),
      );
    }
    if (rules.length > 0) {
      const breaker = circuitBreaker(
        handleWhen((err) => isServerSide(err)),
        { halfOpenAfter: s.halfOpenAfterMs, breaker: rules.length === 1 ? rules[0]! : new EitherBreaker(rules) },
      );
      breaker.onStateChange((state) => {
        if (state === CircuitState.Open) this.openedAt = Date.now();
        onState?.(stateName(state));
      });
      this.breaker = breaker;
    }
    if (s.retries > 0) {
      this.backoff = new ExponentialBackoff({ initialDelay: s.retryDelayMs, maxDelay: s.retryMaxDelayMs });
    }
    if (s.callTimeoutMs > 0) this.deadlines = new Deadlines(s.callTimeoutMs);
  }

  get state(): CircuitStateName {
    return this.breaker ? stateName(this.breaker.state) : "closed";
  }

  /** Seconds until an open breaker lets a probe through (at least 1), for `Retry-After`. */
  retryAfterSeconds(): number {
    const left = this.openedAt + this.settings.halfOpenAfterMs - Date.now();
    return Math.max(1, Math.ceil(left / 1000));
  }

  /**
   * Runs one backend call. `idempotent` calls are retried on transient failures; `timed` ones fail with 504 after
   * the call timeout (the backend's own work is not cancelled: most clients cannot be). Each attempt is recorded
   * in `rec` (so retries show as calls) and a refusal by the breaker as `rejected`.
   */
  run<T>(fn: () => Promise<T>, idempotent: boolean, timed: boolean, rec?: CallRecorder, method = ""): Promise<T> {
    const limit = timed ? this.deadlines : undefined;
    const attempt = limit || rec ? () => this.attempt(fn, limit, rec, method) : fn;
    const breaker = this.breaker;
    // Untimed calls (uploads, transactions, long-polls) last as long as their client wants: they must not be the
    // half-open probe that every other call waits for, so they only fail fast while the breaker is not closed.
    if (!timed && breaker) {
      if (breaker.state === CircuitState.Closed) return attempt();
      return Promise.reject(new BrokenCircuitError()).catch((err) => this.rejected(err, rec));
    }
    const guarded = breaker ? () => breaker.execute(attempt) : attempt;
    const p = guarded();
    if (idempotent && this.backoff) return p.catch((err) => this.retrying(guarded, err, rec));
    // A closed breaker runs the call (cockatiel decides when `execute` starts); only otherwise can it refuse.
    if (breaker && breaker.state !== CircuitState.Closed) return p.catch((err) => this.rejected(err, rec));
    return p;
  }

  /** Retries after a transient failure, waiting the backoff's delays (exponential with jitter) in between. */
  private async retrying<T>(guarded: () => Promise<T>, first: unknown, rec: CallRecorder | undefined): Promise<T> {
    let err = first;
    let backoff = this.backoff!.next(undefined);
    for (let i = 0; i < this.settings.retries && transient(err); i++) {
      await new Promise((r) => setTimeout(r, backoff.duration));
      backoff = backoff.next(undefined);
      try {
        return await guarded();
      } catch (e) {
        err = e;
      }
    }
    return this.rejected(err, rec);
  }

  /** One attempt, bounded by the call timeout and recorded; one promise and one pair of callbacks for both. */
  private attempt<T>(
    fn: () => Promise<T>,
    limit: Deadlines | undefined,
    rec: CallRecorder | undefined,
    method: string,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t0 = rec ? performance.now() : 0;
      const span = rec?.span(method);
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        deadline?.cancel();
        if (rec) {
          const outcome = outcomeOf(err);
          rec.record(outcome, (performance.now() - t0) / 1000);
          span?.end(outcome === "ok" ? undefined : err);
        }
        reject(err);
      };
      const deadline = limit?.start(() =>
        fail(
          sidecarError(
            "GATEWAY_TIMEOUT",
            `${this.service} backend ${this.backend} did not answer within ${this.settings.callTimeoutMs} ms`,
          ),
        ),
      );
      fn().then((v) => {
        if (settled) return;
        settled = true;
        deadline?.cancel();
        if (rec) {
          rec.record("ok", (performance.now() - t0) / 1000);
          span?.end();
        }
        resolve(v);
      }, fail);
    });
  }

  private rejected(err: unknown, rec: CallRecorder | undefined): never {
    if (!(err instanceof BrokenCircuitError)) throw err;
    rec?.record("rejected", 0);
    const e = sidecarError(
      "UNAVAILABLE",
      `${this.service} backend ${this.backend} is unavailable: its circuit breaker is open after repeated failures`,
      { backend: this.backend, breaker: "open" },
    );
    e.metadata.set("retry-after", String(this.retryAfterSeconds()));
    throw e;
  }
}

function stateName(s: CircuitState): CircuitStateName {
  return s === CircuitState.Closed ? "closed" : s === CircuitState.HalfOpen ? "half-open" : "open";
}

/** True when an error is our breaker refusing a call (so it is not counted as a backend failure twice). */
export function isBreakerRejection(err: unknown): boolean {
  return err instanceof SidecarError && err.extra.breaker === "open";
}
