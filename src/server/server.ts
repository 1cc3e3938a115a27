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
import { createAuth } from "./auth.js";
import { discardRestOfBody } from "./body.js";
import { createHealth } from "./health.js";
import { listenDual, type DualListener, type ListenAddress, type NodeHandler } from "./listener.js";
import { rpcInterceptors, rpcRoutes } from "./rpc.js";
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
  /** Bearer token guarding everything but `/health`; undefined turns auth off. */
  authToken?: string;
  limits?: Partial<ServerLimits>;
  log?: Logger;
}

export interface Sidecar {
  /** The request handler, for mounting on a server of your own. */
  readonly handler: NodeHandler;
  /** Starts a listener (TCP or Unix socket); returns its address ("127.0.0.1:3001", "unix:/tmp/m.sock"). */
  listen(addr: ListenAddress): Promise<string>;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes the backends. */
  close(graceMs?: number): Promise<void>;
}

export function createSidecarServer(config: SidecarConfig): Sidecar {
  const log = config.log ?? createLogger();
  const limits: Required<ServerLimits> = { ...DEFAULT_LIMITS, ...config.limits };
  const auth = createAuth(config.authToken);
  const health = createHealth(config.services);
  const listeners: DualListener[] = [];
  // `stopping` ends long-polls and endless streams as soon as shutdown begins; `shutdown` (Connect's own
  // signal, which every RPC sees) only near the end of the grace period, so that ordinary calls finish.
  const stopping = new AbortController();
  const shutdown = new AbortController();
  const rest = createRestDispatcher(config.services, limits, log, stopping.signal);

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
      auth.verify(req.headers.authorization);
      if (!(await rest.handle(req, res))) {
        sendError(req, res, sidecarError("NOT_FOUND", `no route for ${req.method} ${path}`));
      }
    } catch (err) {
      sendError(req, res, err);
      if (!req.complete) discardRestOfBody(req);
    }
  }

  const services = config.services.map((s) => s.instance);
  const interceptors = rpcInterceptors({ auth, limits, log });
  const acceptCompression = [compressionGzip, compressionBrotli];
  const adapter = connectNodeAdapter({
    routes: rpcRoutes({ services, auth, limits, log, registerHealth: health.register }),
    interceptors,
    acceptCompression,
    readMaxBytes: limits.maxBodyBytes,
    shutdownSignal: shutdown.signal,
    contextValues: () => createContextValues().set(serverStopping, stopping.signal),
    fallback: (req, res) => serveFallback(req as IncomingMessage, res as ServerResponse),
  });
  // Unary calls of the services themselves skip connect-node's per-call machinery; the same interceptors and
  // implementations run. Streams, health, reflection and anything unusual go to the adapter.
  const fast = createFastRpc({
    services,
    interceptors,
    readMaxBytes: limits.maxBodyBytes,
    acceptCompression,
    shutdownSignal: shutdown.signal,
    stoppingSignal: stopping.signal,
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
    // The fast path writes the trace headers with its own (setHeader validates and stores each one apart).
    if (rpc && fast(req, res, trace)) return;
    res.setHeader("x-trace-id", trace.traceId);
    if (trace.traceparent) res.setHeader("traceparent", trace.traceparent);
    if (rpc) adapter(req, res);
    else serveFallback(req as IncomingMessage, res as ServerResponse);
  };

  return {
    handler,
    async listen(addr) {
      const l = await listenDual(addr, handler, limits);
      listeners.push(l);
      log.info("listening", { address: l.address, auth: auth.enabled });
      return l.address;
    },
    async close(graceMs = 10_000) {
      stopping.abort();
      // Streams still open at the deadline are told to wrap up; the listeners then cut what is left.
      const streamsDeadline = setTimeout(() => shutdown.abort(), Math.max(0, graceMs - 500));
      await Promise.all(listeners.splice(0).map((l) => l.close(graceMs)));
      clearTimeout(streamsDeadline);
      shutdown.abort();
      const results = await Promise.allSettled(config.services.map((s) => s.instance.close()));
      for (const r of results) if (r.status === "rejected") log.warn("service.close_failed", describeError(r.reason));
    },
  };
}
