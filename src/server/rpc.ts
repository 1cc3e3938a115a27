/**
 * The RPC side: one Connect router holding every enabled service, health and reflection, with the interceptors
 * that apply to all of them (auth, request deadline, error hygiene).
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { Health } from "../../gen/health/v1/health_pb.js";
import * as reflectionV1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as reflectionV1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import type { Logger } from "../shared/log.js";
import { registerService, type ServerLimits, type ServiceInstance } from "../services/module.js";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { Deadlines } from "../shared/deadlines.js";
import type { Gate } from "./policy/gate.js";
import { REQUEST_STATE, stateIn } from "./policy/request-state.js";
import { logFailure, requestTimeout, toRpcError } from "./failures.js";
import { CODE_NAMES, type Metrics, type MethodSeries, Protocol } from "./metrics.js";
import { registerReflection } from "./reflection.js";
import type { Tracing } from "./tracing.js";
import { asClientError, fixParseErrors } from "./rpc-parse-errors.js";

function protocolOf(contentType: string | null): Protocol {
  if (contentType === null || !contentType.startsWith("application/grpc")) return Protocol.Connect;
  return contentType.startsWith("application/grpc-web") ? Protocol.GrpcWeb : Protocol.Grpc;
}

/**
 * The one observation point of an RPC, whichever path delivered it: counts, duration and in-flight gauge per
 * service/method/protocol, and the request's span (its `traceparent` in the response headers, or in the error's
 * metadata). For streams the duration runs until the response starts. Outermost, so it sees the final code.
 */
function observeInterceptor(
  metrics: Metrics | undefined,
  tracing: Tracing | undefined,
  names: Map<string, string>,
): Interceptor {
  const series = new WeakMap<object, MethodSeries>();
  const seriesOf = (req: { service: DescService; method: { name: string } }) => {
    let s = series.get(req.method);
    if (!s) {
      s = metrics!.method(names.get(req.service.typeName) ?? req.service.typeName, req.method.name);
      series.set(req.method, s);
    }
    return s;
  };
  return (next) => (req) => {
    const t0 = performance.now();
    const protocol = protocolOf(req.header.get("content-type"));
    if (metrics) metrics.inflight[protocol]!.inc();
    const span = tracing?.startRequest(`${req.service.typeName}/${req.method.name}`, req.header.get("traceparent"), {
      "rpc.system": PROTOCOL_SYSTEM[protocol]!,
      "rpc.service": req.service.typeName,
      "rpc.method": req.method.name,
    });
    const done = (code: number) => {
      if (metrics) {
        metrics.inflight[protocol]!.dec();
        seriesOf(req).observe(protocol, code, (performance.now() - t0) / 1000);
      }
      if (span) tracing!.endRequest(span, code, CODE_NAMES[code] ?? "unknown");
    };
    let p;
    try {
      p = span ? tracing!.run(span, () => next(req)) : next(req);
    } catch (err) {
      p = Promise.reject(err);
    }
    return p.then(
      (res) => {
        done(0);
        if (span) res.header.set("traceparent", tracing!.traceparentOf(span));
        return res;
      },
      (err) => {
        const ce = ConnectError.from(err);
        done(ce.code);
        if (span) ce.metadata.set("traceparent", tracing!.traceparentOf(span));
        throw ce;
      },
    );
  };
}

const PROTOCOL_SYSTEM = ["rest", "connect_rpc", "grpc", "grpc_web"];

/**
 * Identification and rate limits for every RPC except grpc.health.v1 (open, like `GET /health`); the principal
 * goes into the request state for the guarded services to authorise each call. Not `async`: a rejected token
 * throws here and the interceptor outside turns it into a rejection; an extra async frame per call buys
 * nothing (a remote rate-limit store makes it a promise).
 */
function authInterceptor(auth: Gate, track: boolean): Interceptor {
  return (next) => (req) => {
    if (req.service.typeName === Health.typeName) return next(req);
    const state = track ? stateIn(req.contextValues) : undefined;
    const admitted = auth.admit(req.header.get("authorization"), state);
    return admitted instanceof Promise ? admitted.then(() => next(req)) : next(req);
  };
}

/**
 * Unary calls get the server's request deadline unless the client asked for a shorter one; streams bound their
 * own time. Failures are logged and shaped by the server's one policy (failures.ts), as on the REST side.
 *
 * One promise settled by whichever comes first, rather than an async function around `Promise.race` with a
 * second promise for the timer: this runs on every call, and that shape cost about 5 µs of CPU per call. The
 * deadlines share one timer (see deadlines.ts).
 */
function deadlineAndErrors(limits: ServerLimits, log: Logger): Interceptor {
  const ms = limits.requestTimeoutMs;
  const hide = (req: { url: string; method: DescMethod }, err: unknown): ConnectError => {
    // A streaming call's request is parsed inside the interceptors (a unary one before: rpc-parse-errors.ts).
    const parse = err instanceof ConnectError ? asClientError(err, req.method) : undefined;
    if (parse) return parse;
    logFailure(log, "rpc.failed", { method: req.url }, err);
    return toRpcError(err);
  };
  const deadlines = ms > 0 ? new Deadlines(ms) : undefined;
  return (next) => (req) =>
    new Promise((resolve, reject) => {
      const deadline = req.stream || !deadlines ? undefined : deadlines.start(() => reject(requestTimeout(ms)));
      const fail = (err: unknown) => {
        deadline?.cancel();
        const shown = hide(req, err);
        const record = req.contextValues.get(REQUEST_STATE)?.record;
        if (record) record.code = codeToString(shown.code).toUpperCase();
        reject(shown);
      };
      let res;
      try {
        res = next(req); // the interceptors inside may throw synchronously (auth)
      } catch (err) {
        fail(err);
        return;
      }
      res.then((r) => {
        deadline?.cancel();
        resolve(r);
      }, fail);
    });
}

export interface RpcSetup {
  services: readonly ServiceInstance[];
  /** REST names by proto service name ("mikcar.kv.v1.KvService" → "kv"), the `service` label of metrics. */
  names?: Map<string, string>;
  metrics?: Metrics;
  tracing?: Tracing;
  auth: Gate;
  limits: ServerLimits;
  log: Logger;
  registerHealth(router: ConnectRouter): void;
}

/** `track`: the services read the request state (a policy is in force, or the access log is on). */
export function rpcInterceptors(
  setup: Pick<RpcSetup, "auth" | "limits" | "log" | "metrics" | "tracing" | "names">,
  track = true,
): Interceptor[] {
  const base = [deadlineAndErrors(setup.limits, setup.log), authInterceptor(setup.auth, track)];
  if (!setup.metrics && !setup.tracing) return base;
  return [observeInterceptor(setup.metrics, setup.tracing, setup.names ?? new Map()), ...base];
}

/** The `routes` function for connectNodeAdapter. */
export function rpcRoutes(setup: RpcSetup) {
  return (router: ConnectRouter) => {
    for (const s of setup.services) registerService(router, s);
    setup.registerHealth(router);
    const listed: DescService[] = [
      ...setup.services.map((s) => s.desc),
      Health,
      reflectionV1.ServerReflection,
      reflectionV1alpha.ServerReflection,
    ];
    registerReflection(router, listed);
    fixParseErrors(router);
  };
}
