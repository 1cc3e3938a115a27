/**
 * Building a sidecar in code (mikcar's `SidecarBuilder`): name the services and their backend URLs (or pass an
 * opened instance), then listen.
 *
 * @example
 * const sidecar = await createSidecar({ services: { kv: "memory://" }, authToken: "s3cret" });
 * await sidecar.listen({ port: 3001, host: "127.0.0.1" });
 * // … later
 * await sidecar.close();
 */
import { findModule, serviceModules } from "../services/catalogue.js";
import { type OptionInput, openService, type ServerLimits, type ServiceInstance } from "../services/module.js";
import { createLogger, describeError, type Logger, redactUrl } from "../shared/log.js";
import type { AccessLogTarget } from "./policy/access-log.js";
import type { ServiceMethods } from "./policy/document.js";
import { PolicyEvents } from "./policy/events.js";
import type { RateStore } from "./policy/rate-limit.js";
import { filePolicy, type PolicySource, staticPolicy } from "./policy/source.js";
import { Metrics } from "./metrics.js";
import { createSidecarServer, DEFAULT_LIMITS, type Sidecar } from "./server.js";
import { Tracing } from "./tracing.js";
import { type TlsFiles, TlsMaterial } from "./tls.js";

export interface SidecarOptions {
  /** Service name → backend URL, or an instance you opened yourself. */
  services: Record<string, string | ServiceInstance>;
  /**
   * Per-service options (the CLI's `--<service>-<option>` flags, resilience included: `call-timeout`, `retries`,
   * `breaker-failures`, …), by service name: typed values (sizes in bytes, durations in ms) or text as a flag
   * would take it ("10MiB", "30s").
   */
  serviceOptions?: Record<string, Record<string, OptionInput>>;
  /** What chose each service's URL (flag, variable, default), for the start-up log. */
  urlSources?: Record<string, string>;
  /** Bearer token for every route but `/health`; undefined means no auth. Ignored when a policy is given. */
  authToken?: string;
  /**
   * Per-token rules (docs/policy.md): a file path (JSON, or YAML by extension; reloaded by `reload()` and when
   * the file changes) or the document itself. Given, everything the policy does not allow is refused.
   */
  policy?: string | object;
  /** Watch the policy file for changes (default true). */
  watchPolicy?: boolean;
  /** Server-wide token bucket for all calls together; burst defaults to one second's worth. */
  rateLimit?: { perSecond: number; burst?: number };
  /** Where rate-limit buckets live: "memory" (default) or a `redis://` URL shared by several sidecars. */
  rateLimitStore?: string;
  /** Service name → calls that may run against its backend at once; 0 or absent: no cap. */
  maxConcurrency?: Record<string, number>;
  /** How long a call waits for a free slot before it gets 503 (default 1 s). */
  maxConcurrencyWaitMs?: number;
  /** One JSON line per request: a file path, "-" for stderr, a function, or "off" (default). */
  accessLog?: AccessLogTarget;
  /** TLS on TCP listeners: certificate and key files, and a client CA to require client certificates. */
  tls?: TlsFiles;
  limits?: Partial<ServerLimits>;
  log?: Logger;
  /** Record Prometheus metrics (served by `listenAdmin`); default true. */
  metrics?: boolean;
  /** OTLP/HTTP endpoint for traces (`http://collector:4318`); no tracing when absent. */
  otlpEndpoint?: string;
  /** Smallest REST JSON body compressed when asked (and the RPC threshold); 0 = off; default 1 KiB. */
  compressMinBytes?: number;
}

/** Opens every named service (closing those already opened if one fails) and assembles the server. */
export async function createSidecar(opts: SidecarOptions): Promise<Sidecar> {
  const log = opts.log ?? createLogger();
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const tracing = opts.otlpEndpoint ? new Tracing({ endpoint: opts.otlpEndpoint }) : undefined;
  // Tracing needs the observer too (backend spans are started by it), even when metrics are not served.
  const metrics = opts.metrics !== false || tracing ? new Metrics() : undefined;
  if (metrics && tracing) metrics.tracer = tracing;
  const opened: Array<{ name: string; instance: ServiceInstance }> = [];
  try {
    for (const [name, spec] of Object.entries(opts.services)) {
      if (typeof spec !== "string") {
        opened.push({ name, instance: spec });
        continue;
      }
      const mod = findModule(name);
      if (!mod) {
        throw new Error(
          `unknown service ${JSON.stringify(name)}: known services are ${serviceModules.map((m) => m.name).join(", ")}`,
        );
      }
      const instance = await openService(mod, spec, {
        log,
        limits,
        options: opts.serviceOptions?.[name],
        observer: metrics,
      });
      const from = opts.urlSources?.[name];
      log.info("service.opened", {
        service: name,
        backend: instance.backend,
        url: redactUrl(spec),
        ...(from ? { from } : {}),
      });
      opened.push({ name, instance });
    }
  } catch (err) {
    await Promise.allSettled(opened.map((s) => s.instance.close()));
    await tracing?.close().catch(() => {});
    log.error("service.open_failed", describeError(err));
    throw err;
  }
  if (opened.length === 0) {
    throw new Error(`no service enabled: name at least one (${serviceModules.map((m) => m.name).join(", ")})`);
  }
  const events = new PolicyEvents();
  let policy: PolicySource | undefined;
  let rateStore: RateStore | undefined;
  try {
    for (const name of Object.keys(opts.maxConcurrency ?? {})) {
      if (!opened.some((s) => s.name === name))
        throw new Error(`maxConcurrency names ${JSON.stringify(name)}, which is not an enabled service`);
    }
    const tls = opts.tls ? await TlsMaterial.load(opts.tls) : undefined;
    if (opts.policy !== undefined) {
      const services: ServiceMethods = new Map(
        opened.map((s) => [s.name, s.instance.desc.methods.map((m) => m.name)] as const),
      );
      const source = { services, known: serviceModules.map((m) => m.name), log, events, watch: opts.watchPolicy };
      policy =
        typeof opts.policy === "string" ? await filePolicy(opts.policy, source) : staticPolicy(opts.policy, source);
    }
    if (opts.rateLimitStore !== undefined && opts.rateLimitStore !== "memory") {
      if (!/^rediss?:\/\//.test(opts.rateLimitStore))
        throw new Error(
          `rate limit store must be "memory" or a redis:// URL, got ${JSON.stringify(redactUrl(opts.rateLimitStore))}`,
        );
      // Loaded only when asked for, like every backend client.
      const { RedisRateStore } = await import("./policy/redis-rate-store.js");
      rateStore = await RedisRateStore.open(opts.rateLimitStore);
    }
    const serverRate = opts.rateLimit
      ? {
          perSecond: opts.rateLimit.perSecond,
          burst: opts.rateLimit.burst ?? Math.max(1, Math.ceil(opts.rateLimit.perSecond)),
        }
      : undefined;
    return createSidecarServer({
      services: opened,
      authToken: opts.authToken,
      policy,
      serverRate,
      rateStore,
      maxConcurrency: opts.maxConcurrency,
      maxConcurrencyWaitMs: opts.maxConcurrencyWaitMs,
      accessLog: opts.accessLog,
      tls,
      events,
      limits,
      log,
      metrics,
      tracing,
      compressMinBytes: opts.compressMinBytes,
    });
  } catch (err) {
    policy?.close();
    await rateStore?.close();
    await Promise.allSettled(opened.map((s) => s.instance.close()));
    await tracing?.close().catch(() => {});
    throw err;
  }
}
