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
import { Deadlines } from "./deadlines.js";
import type { Gate } from "./policy/gate.js";
import { REQUEST_STATE, stateIn } from "./policy/request-state.js";
import { logFailure, requestTimeout, toRpcError } from "./failures.js";
import { registerReflection } from "./reflection.js";
import { asClientError, fixParseErrors } from "./rpc-parse-errors.js";

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
  auth: Gate;
  limits: ServerLimits;
  log: Logger;
  registerHealth(router: ConnectRouter): void;
}

/** `track`: the services read the request state (a policy is in force, or the access log is on). */
export function rpcInterceptors(setup: Pick<RpcSetup, "auth" | "limits" | "log">, track = true): Interceptor[] {
  return [deadlineAndErrors(setup.limits, setup.log), authInterceptor(setup.auth, track)];
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
