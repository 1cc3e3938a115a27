/**
 * Assembles a sidecar from opened services: one Node request handler that serves gRPC, gRPC-Web and Connect
 * through the Connect adapter and falls back to `/health` and the REST layer; listeners on TCP and/or Unix
 * sockets; graceful shutdown. Nothing here listens until `listen` is called.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createContextValues } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { sidecarError } from "../shared/errors.js";
import { createLogger, describeError, type Logger } from "../shared/log.js";
import { serverStopping } from "../shared/stopping.js";
import { createRestDispatcher, sendError } from "./rest/dispatcher.js";
import { stringifyExact } from "../shared/exact-json.js";
import type { ServerLimits, ServiceInstance } from "../services/module.js";
import { createAdminHandler } from "./admin.js";
import { discardRestOfBody } from "./body.js";
import { createHealth } from "./health.js";
import { listenDual, type DualListener, type ListenAddress, type NodeHandler } from "./listener.js";
import { type AccessLogTarget, createAccessLog } from "./policy/access-log.js";
import { Bulkhead } from "./policy/bulkhead.js";
import { PolicyEvents } from "./policy/events.js";
import { createGate } from "./policy/gate.js";
import { guardService } from "./policy/guard.js";
import { MemoryRateStore, type RateStore } from "./policy/rate-limit.js";
import { attachState, peerNames, REQUEST_STATE, type RequestState, stateOf } from "./policy/request-state.js";
import type { PolicySource } from "./policy/source.js";
import type { TlsMaterial } from "./tls.js";
import type { Metrics } from "./metrics.js";
import { rpcInterceptors, rpcRoutes } from "./rpc.js";
import { StatsWindow } from "./stats.js";
import type { Tracing } from "./tracing.js";
import { createFastRpc } from "./rpc-fast/handler.js";
import { traceOf } from "./trace.js";

export const DEFAULT_LIMITS: Required<ServerLimits> = {
  maxBodyBytes: 10 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  maxConnections: 10_000,
  h2IdleTimeoutMs: 60_000,
  keepAliveIntervalMs: 30_000,
  writeTimeoutMs: 30_000,
};

export interface SidecarConfig {
  /** Opened services by REST name ("kv", "storage", …). */
  services: ReadonlyArray<{ name: string; instance: ServiceInstance }>;
  /** Bearer token guarding everything but `/health`; undefined turns auth off. Ignored when a policy is given. */
  authToken?: string;
  /** Per-token access rules (docs/policy.md); when given, everything not allowed is refused. */
  policy?: PolicySource;
  /** Server-wide token bucket for all calls together (`--rate-limit`). */
  serverRate?: { perSecond: number; burst: number };
  /** Where buckets live (default: in memory). */
  rateStore?: RateStore;
  /** Service name → calls that may run against its backend at once (`--<service>-max-concurrency`). */
  maxConcurrency?: Record<string, number>;
  /** How long a call waits for a slot before it gets 503 (default 1 s). */
  maxConcurrencyWaitMs?: number;
  /** One JSON line per request: a file path, "-" for stderr, or a function; undefined or "off": none. */
  accessLog?: AccessLogTarget;
  /** TLS for TCP listeners (the Unix socket stays plaintext). */
  tls?: TlsMaterial;
  /** Where denials, rate-limit refusals and reloads are announced (made here if not given). */
  events?: PolicyEvents;
  limits?: Partial<ServerLimits>;
  log?: Logger;
  /** Records requests (and, if the services were opened with it as observer, backend calls); none when absent. */
  metrics?: Metrics;
  /** Spans per request and backend call; none when absent. */
  tracing?: Tracing;
  /** Smallest REST JSON body compressed (gzip/br) when the client accepts it, and RPC's threshold; 0 = off. */
  compressMinBytes?: number;
}

export const DEFAULT_COMPRESS_MIN_BYTES = 1024;

export interface Sidecar {
  /** The request handler, for mounting on a server of your own. */
  readonly handler: NodeHandler;
  /** Starts a listener (TCP or Unix socket); returns its address ("127.0.0.1:3001", "unix:/tmp/m.sock"). */
  listen(addr: ListenAddress): Promise<string>;
  /** Starts an admin listener (metrics, stats, health; no token); returns its address. */
  listenAdmin(addr: ListenAddress): Promise<string>;
  /** The metrics registry, when metrics are on (policy denials and rate-limit refusals are counted in it). */
  readonly metrics: Metrics | undefined;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes the backends. */
  close(graceMs?: number): Promise<void>;
  /** Reads the policy file and the TLS certificates again (what SIGHUP does); a bad file keeps the old. */
  reload(): Promise<void>;
  /** Policy events: `denied`, `rate_limited`, `reloaded` (for metrics). */
  readonly events: PolicyEvents;
}

export function createSidecarServer(config: SidecarConfig): Sidecar {
  const log = config.log ?? createLogger();
  const limits: Required<ServerLimits> = { ...DEFAULT_LIMITS, ...config.limits };
  const events = config.events ?? new PolicyEvents();
  const rateStore = config.rateStore ?? new MemoryRateStore();
  if (config.policy && config.authToken !== undefined)
    log.warn("auth.token_ignored", { reason: "a policy is given: only its tokens are accepted" });
  const auth = createGate({
    authToken: config.policy ? undefined : config.authToken,
    policy: config.policy,
    serverRate: config.serverRate,
    store: rateStore,
    events,
    mtls: config.tls?.mtls,
  });
  const accessLog =
    config.accessLog !== undefined && config.accessLog !== "off" ? createAccessLog(config.accessLog) : undefined;
  // Served to REST and RPC alike: one guarded implementation per service (policy, namespaces, bulkhead).
  const services = config.services.map(({ name, instance }) => {
    const max = config.maxConcurrency?.[name] ?? 0;
    const bulkhead = max > 0 ? new Bulkhead(name, max, config.maxConcurrencyWaitMs ?? 1_000) : undefined;
    const impl = guardService(instance, { name, enforce: config.policy !== undefined, bulkhead, events }, !!accessLog);
    return { name, instance: impl === instance.impl ? instance : { ...instance, impl } };
  });
  const serviceNames = new Map(config.services.map((s) => [s.instance.desc.typeName, s.name]));
  // Request state is only needed when something reads it: a policy, the access log or client certificates.
  const tracked = config.policy !== undefined || accessLog !== undefined || config.tls?.mtls === true;
  const health = createHealth(config.services);
  const { metrics, tracing } = config;
  const compressMinBytes = config.compressMinBytes ?? DEFAULT_COMPRESS_MIN_BYTES;
  // 0 turns sending compressed RPC answers off; they are still accepted.
  const rpcCompressMin = compressMinBytes > 0 ? compressMinBytes : Number.MAX_SAFE_INTEGER;
  if (metrics && tracing) metrics.tracer = tracing;
  if (metrics) {
    // The policy's refusals, by token id (bounded: the ids of the policy file, "anonymous", "server").
    events.on("denied", (d) => metrics.denied(d.token));
    events.on("rate_limited", (r) => metrics.rateLimited(r.token));
  }
  const listeners: DualListener[] = [];
  const adminListeners: DualListener[] = [];
  metrics?.connections(() => {
    const out = { connections: 0, streams: 0 };
    for (const l of listeners) {
      const c = l.counts();
      out.connections += c.connections;
      out.streams += c.streams;
    }
    return out;
  });
  const stats = metrics
    ? new StatsWindow({
        metrics,
        services: config.services,
        health: () => health.report(),
        connections: () => metrics.connectionCounts(),
      })
    : undefined;
  const admin = createAdminHandler({ metrics, stats, ready: () => health.report(), log });
  // `stopping` ends long-polls and endless streams as soon as shutdown begins; `shutdown` (Connect's own
  // signal, which every RPC sees) only near the end of the grace period, so that ordinary calls finish.
  const stopping = new AbortController();
  const shutdown = new AbortController();
  const rest = createRestDispatcher(services, limits, log, stopping.signal, { metrics, tracing, compressMinBytes });

  async function fallback(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? "/").split("?", 1)[0];
    try {
      if (path === "/health" && (req.method === "GET" || req.method === "HEAD")) {
        const report = await health.report();
        const body = stringifyExact(report);
        res.writeHead(report.status === "ok" ? 200 : 503, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        });
        res.end(body);
        return;
      }
      const admitted = auth.admit(req.headers.authorization, stateOf(req));
      if (admitted instanceof Promise) await admitted;
      if (!(await rest.handle(req, res))) {
        sendError(req, res, sidecarError("NOT_FOUND", `no route for ${req.method} ${path}`));
      }
    } catch (err) {
      sendError(req, res, err);
      if (!req.complete) discardRestOfBody(req);
    }
  }

  const served = services.map((s) => s.instance);
  // One list for both RPC paths, so the fast path's calls are counted and traced like the adapter's.
  const interceptors = rpcInterceptors({ auth, limits, log, metrics, tracing, names: serviceNames }, tracked);
  const acceptCompression = [compressionGzip, compressionBrotli];
  const adapter = connectNodeAdapter({
    routes: rpcRoutes({ services: served, auth, limits, log, registerHealth: health.register }),
    interceptors,
    acceptCompression,
    compressMinBytes: rpcCompressMin,
    readMaxBytes: limits.maxBodyBytes,
    shutdownSignal: shutdown.signal,
    // The stopping signal, and the state the outer handler attached to the Node request (for the interceptors
    // and the guarded services).
    contextValues: (req) => {
      const values = createContextValues().set(serverStopping, stopping.signal);
      const state = stateOf(req);
      if (state) values.set(REQUEST_STATE, state);
      return values;
    },
    fallback: (req, res) => serveFallback(req as IncomingMessage, res as ServerResponse),
  });
  // Unary calls of the services themselves skip connect-node's per-call machinery; the same interceptors and
  // implementations run. Streams, health, reflection and anything unusual go to the adapter.
  const fast = createFastRpc({
    services: served,
    interceptors,
    readMaxBytes: limits.maxBodyBytes,
    acceptCompression,
    compressMinBytes: rpcCompressMin,
    shutdownSignal: shutdown.signal,
    stoppingSignal: stopping.signal,
    requestValues: (req, values) => {
      const state = stateOf(req);
      if (state) values.set(REQUEST_STATE, state);
    },
    log,
  });

  function serveFallback(req: IncomingMessage, res: ServerResponse) {
    fallback(req, res).catch((err) => {
      log.error("http.failed", describeError(err));
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  }

  const handler: NodeHandler = (req, res) => {
    const trace = traceOf(req.headers);
    // RPC paths are "/package.Service/Method"; anything whose first segment has no dot is REST or /health and
    // skips the adapter's own routing.
    const url = req.url ?? "/";
    const end = url.indexOf("/", 1);
    const dot = url.indexOf(".");
    const rpc = dot > 0 && (end < 0 || dot < end);
    if (tracked) {
      const state: RequestState = { peer: peerNames(req), caller: undefined, record: accessLog ? {} : undefined };
      attachState(req, state);
      if (accessLog) {
        if (rpc) {
          const q = url.indexOf("?");
          const path = q < 0 ? url.slice(1) : url.slice(1, q);
          const slash = path.indexOf("/");
          state.record!.service = serviceNames.get(path.slice(0, slash)) ?? path.slice(0, slash);
          state.record!.method = path.slice(slash + 1);
        } else if (end > 0) state.record!.service = url.slice(1, end);
        accessLog.begin(
          req,
          res,
          state.record!,
          trace.traceId,
          rpc ? rpcProtocol(req.headers["content-type"]) : "rest",
        );
      }
    }
    // The fast path writes the trace headers with its own (setHeader validates and stores each one apart).
    // With tracing on, the REST layer and the RPC interceptor answer with the request span's own traceparent.
    const echo = tracing ? { traceId: trace.traceId } : trace;
    if (rpc && fast(req, res, echo)) return;
    res.setHeader("x-trace-id", trace.traceId);
    if (echo.traceparent) res.setHeader("traceparent", echo.traceparent);
    if (rpc) adapter(req, res);
    else serveFallback(req as IncomingMessage, res as ServerResponse);
  };

  return {
    handler,
    events,
    metrics,
    async listenAdmin(addr) {
      const l = await listenDual(addr, admin, limits);
      adminListeners.push(l);
      stats?.start();
      log.info("admin.listening", { address: l.address, metrics: metrics !== undefined });
      return l.address;
    },
    async listen(addr) {
      const l = await listenDual(addr, handler, limits, config.tls);
      listeners.push(l);
      const tls = config.tls && !("socket" in addr) ? (config.tls.mtls ? "mtls" : "tls") : undefined;
      log.info("listening", { address: l.address, auth: auth.enabled, ...(tls ? { tls } : {}) });
      return l.address;
    },
    async reload() {
      await config.policy?.reload();
      if (config.tls) {
        try {
          await config.tls.reload();
          log.info("tls.reloaded", { cert: config.tls.files.cert });
          events.emit("reloaded", { what: "tls", ok: true });
        } catch (err) {
          const error = (err as Error).message;
          log.error("tls.reload_failed", { error, kept: "the running certificates" });
          events.emit("reloaded", { what: "tls", ok: false, error });
        }
      }
    },
    async close(graceMs = 10_000) {
      stopping.abort();
      // Streams still open at the deadline are told to wrap up; the listeners then cut what is left.
      const streamsDeadline = setTimeout(() => shutdown.abort(), Math.max(0, graceMs - 500));
      await Promise.all(listeners.splice(0).map((l) => l.close(graceMs)));
      clearTimeout(streamsDeadline);
      shutdown.abort();
      stats?.stop();
      await Promise.all(adminListeners.splice(0).map((l) => l.close(Math.min(graceMs, 1_000))));
      await tracing?.close().catch((err) => log.warn("tracing.close_failed", describeError(err)));
      config.policy?.close();
      const results = await Promise.allSettled([
        ...config.services.map((s) => s.instance.close()),
        rateStore.close(),
        accessLog?.close(),
      ]);
      for (const r of results) if (r.status === "rejected") log.warn("service.close_failed", describeError(r.reason));
    },
  };
}

function rpcProtocol(contentType: string | undefined): string {
  if (contentType?.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}
