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
import { Metrics } from "./metrics.js";
import { createSidecarServer, DEFAULT_LIMITS, type Sidecar } from "./server.js";
import { Tracing } from "./tracing.js";

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
  /** Bearer token for every route but `/health`; undefined means no auth. */
  authToken?: string;
  limits?: Partial<ServerLimits>;
  log?: Logger;
  /** Record Prometheus metrics (served by `listenAdmin`); default true. */
  metrics?: boolean;
  /** OTLP/HTTP endpoint for traces (`http://collector:4318`); no tracing when absent. */
  otlpEndpoint?: string;
  /** Smallest REST JSON body compressed when asked (and Connect's threshold); 0 = off; default 1 KiB. */
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
  return createSidecarServer({
    services: opened,
    authToken: opts.authToken,
    limits,
    log,
    metrics,
    tracing,
    compressMinBytes: opts.compressMinBytes,
  });
}
