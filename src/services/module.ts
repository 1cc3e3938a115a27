/**
 * What a service contributes to a sidecar. Each service folder's `index.ts` defines one `ServiceModule`; the
 * server, the CLI and the REST dispatcher only ever talk to this shape, so adding a service never touches them.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import {
  type BackendObserver,
  type CallKinds,
  guardBackend,
  policyOf,
  type ServiceObserver,
} from "../shared/instrument.js";
import type { Logger } from "../shared/log.js";
import { type OptionInput, type OptionSpec, type OptionValue, resolveOptions } from "../shared/option-spec.js";
import { BackendPolicy } from "../shared/resilience.js";
import { RESILIENCE_KEYS, resilienceOptions, resilienceSettings } from "../shared/resilience-options.js";
import type { RestRoute } from "../shared/rest-route.js";
import type { ServiceResources } from "./resources.js";

export type { OptionInput, OptionSpec, OptionValue } from "../shared/option-spec.js";

export interface OpenContext {
  log: Logger;
  /** The service's own options, parsed and with defaults applied (sizes in bytes, durations in ms). */
  options: Record<string, OptionValue | undefined>;
  /** Server-wide limits a service may need (e.g. to clamp long-polls below the request timeout). */
  limits: ServerLimits;
  /**
   * Wraps the service's backend: the methods in `kinds` get the service's resilience policy (timeout, retries
   * for idempotent ones, circuit breaker) and are recorded in metrics and traces. Other members pass through.
   */
  guard<T extends { readonly name: string }>(backend: T, kinds: CallKinds<T>): T;
  /** Service-specific figures (queue deliveries, script workers); absent when nothing observes them. */
  observer?: ServiceObserver;
}

export interface ServerLimits {
  /** Largest buffered request body in bytes (JSON, KV values, …). */
  maxBodyBytes: number;
  /** Time a request may take before the server answers 408 / DEADLINE_EXCEEDED. */
  requestTimeoutMs: number;
  // The connection limits below are the server's own; optional so that code opening a service alone need not
  // name them (the server fills in its defaults).
  /** Concurrent connections per listener; more are refused (503 / GOAWAY). 0 = no cap. */
  maxConnections?: number;
  /** An HTTP/2 session with no open stream is closed after this long. 0 = never. */
  h2IdleTimeoutMs?: number;
  /** HTTP/2 PING keep-alive period for sessions with open streams; an unanswered PING drops the session. 0 = off. */
  keepAliveIntervalMs?: number;
  /** A response (or HTTP/2 stream) whose client reads nothing for this long is cut. 0 = never. */
  writeTimeoutMs?: number;
}

/**
 * A running service: its one implementation, the REST rows that translate plain HTTP onto it, and its lifecycle.
 * `rest` takes the implementation to call so that the server can hand the rows the same (possibly wrapped)
 * implementation the RPC router serves.
 */
export interface ServiceInstance<S extends DescService = DescService> {
  /** The backend in use, safe to show (scheme only, never credentials), e.g. "redis". */
  readonly backend: string;
  readonly desc: S;
  readonly impl: ServiceImpl<S>;
  rest(impl: ServiceImpl<S>): RestRoute[];
  /** What names a resource in each call, for the server's policy (absent: the service names none). */
  readonly resources?: ServiceResources<S>;
  /** Cheap liveness probe of the backend; rejects or returns false when it is unreachable. */
  healthy(): Promise<boolean>;
  /** The backend's resilience policy (circuit state for readiness), when it was opened with one. */
  readonly policy?: BackendPolicy;
  close(): Promise<void>;
}

/** Registers a service on a Connect router, keeping the pairing of descriptor and implementation typed. */
export function registerService<S extends DescService>(router: ConnectRouter, s: ServiceInstance<S>): void {
  router.service(s.desc, s.impl);
}

export interface ServiceModule {
  /** Name, REST prefix and CLI flag: "kv" → `/kv/...`, `--kv`, `KV_URL`. */
  readonly name: string;
  readonly summary: string;
  /** URL used when the service is enabled without one: an embedded backend that needs no server. */
  readonly defaultUrl: string;
  /** Environment variables naming the URL, first found wins (default `<NAME>_URL`). */
  readonly urlEnv?: readonly string[];
  /** URL schemes accepted, for help and error messages. */
  readonly schemes: readonly string[];
  readonly options?: Readonly<Record<string, OptionSpec>>;
  open(url: string, ctx: OpenContext): Promise<ServiceInstance>;
}

/** The environment variables that may name a module's URL, in the order they are read. */
export function urlEnvOf(m: ServiceModule): readonly string[] {
  return m.urlEnv ?? [`${m.name.toUpperCase()}_URL`];
}

/** What every backend offers the server: a name to show, a liveness probe and a way to let go of its resources. */
export interface BackendLifecycle {
  readonly name: string;
  ping(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * The usual instance of a service: one backend, its implementation and its REST rows. `onClose` runs before the
 * backend closes (worker pools, caches).
 */
export function serviceInstance<S extends DescService>(
  desc: S,
  impl: ServiceImpl<S>,
  rest: (impl: ServiceImpl<S>) => RestRoute[],
  backend: BackendLifecycle,
  onClose?: () => Promise<void> | void,
): ServiceInstance<S> {
  return {
    backend: backend.name,
    desc,
    impl,
    rest,
    policy: policyOf(backend),
    healthy: async () => {
      await backend.ping();
      return true;
    },
    close: async () => {
      await onClose?.();
      await backend.close();
    },
  };
}

/** Every option a module accepts: its own and the resilience options all services share. */
export function optionSpecsOf(m: ServiceModule): Readonly<Record<string, OptionSpec>> {
  return { ...m.options, ...resilienceOptions(m.name) };
}

export interface OpenServiceContext {
  log: Logger;
  limits: ServerLimits;
  /** The module's own options and the shared resilience options, typed or as text. */
  options?: Readonly<Record<string, OptionInput>>;
  /** Records backend calls and service figures (the server's metrics and tracing); none when absent. */
  observer?: BackendObserver & ServiceObserver;
}

/**
 * Opens a service: its options resolved against the module's specs (text parsed, defaults applied, bounds
 * checked, errors naming `--<service>-<option>`), then the module's own `open` with a `guard` that applies the
 * resilience options to the backend it opens.
 */
export async function openService(m: ServiceModule, url: string, ctx: OpenServiceContext): Promise<ServiceInstance> {
  const all = resolveOptions(optionSpecsOf(m), ctx.options ?? {}, (o) => `--${m.name}-${o}`);
  const options: Record<string, OptionValue | undefined> = {};
  for (const k of Object.keys(m.options ?? {})) options[k] = all[k];
  const settings = resilienceSettings(Object.fromEntries(RESILIENCE_KEYS.map((k) => [k, all[k]])));
  const observer = ctx.observer;
  const guard = <T extends { readonly name: string }>(backend: T, kinds: CallKinds<T>): T => {
    const series = observer?.backend(m.name, backend.name);
    const policy = new BackendPolicy(m.name, backend.name, settings, (state) => series?.circuit(state));
    series?.circuit("closed");
    return guardBackend(backend, kinds, policy, series);
  };
  return m.open(url, { log: ctx.log, limits: ctx.limits, options, guard, observer });
}
