/**
 * What a service contributes to a sidecar. Each service folder exports one `ServiceModule`; the server, the CLI
 * and the REST layer only ever talk to this shape, so adding a service never touches them.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { Logger } from "../shared/log.js";
import type { RestRoute } from "../shared/rest-route.js";

/** A CLI/env option a service accepts beyond its URL (e.g. `--sql-readonly`). */
export interface ServiceOption {
  type: "string" | "boolean";
  /** Environment variable read when the flag is absent. */
  env?: string;
  description: string;
  default?: string | boolean;
}

export interface OpenContext {
  log: Logger;
  /** Values of the service's own options, keyed by option name, after flag → env → default. */
  options: Record<string, string | boolean | undefined>;
  /** Server-wide limits a service may need (e.g. to clamp long-polls below the request timeout). */
  limits: ServerLimits;
}

export interface ServerLimits {
  /** Largest buffered request body in bytes (JSON, KV values, …). */
  maxBodyBytes: number;
  /** Time a request may take before the server answers 408 / DEADLINE_EXCEEDED. */
  requestTimeoutMs: number;
}

/** A running service: its RPC implementation, its REST rows and its lifecycle. */
export interface ServiceInstance {
  /** The backend in use, safe to show (scheme only, never credentials), e.g. "redis". */
  readonly backend: string;
  readonly desc: DescService;
  /** A `ServiceImpl` of `desc` (typed per service where it is built; the router only needs the pair). */
  readonly impl: object;
  readonly rest: RestRoute[];
  /** Cheap liveness probe of the backend; rejects or returns false when it is unreachable. */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

export interface ServiceModule {
  /** Name, REST prefix and CLI flag: "kv" → `/kv/...`, `--kv`, `KV_URL`. */
  readonly name: string;
  readonly summary: string;
  /** URL used when the service is enabled without one: an embedded backend that needs no server. */
  readonly defaultUrl: string;
  /** URL schemes accepted, for help and error messages. */
  readonly schemes: readonly string[];
  readonly options?: Record<string, ServiceOption>;
  open(url: string, ctx: OpenContext): Promise<ServiceInstance>;
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
export function serviceInstance(
  desc: DescService,
  impl: object,
  rest: RestRoute[],
  backend: BackendLifecycle,
  onClose?: () => Promise<void> | void,
): ServiceInstance {
  return {
    backend: backend.name,
    desc,
    impl,
    rest,
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
