/**
 * The fast path's routing table: `/package.Service/Method` → the unary method, its implementation (the one in
 * `instance.impl`, the same the Connect router serves) and the interceptor chain around it.
 */
import { create, isMessage, type DescMethodUnary } from "@bufbuild/protobuf";
import type { Interceptor, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import type { ServiceInstance } from "../../services/module.js";
import { type FastRequest, FastHandlerContext, FastResponse } from "./call.js";

export interface FastRoute {
  readonly method: DescMethodUnary;
  /** Runs the interceptors and the implementation. */
  invoke(req: FastRequest): Promise<UnaryResponse>;
}

type AnyFn = (req: UnaryRequest) => Promise<UnaryResponse>;
type UnaryImpl = (req: unknown, ctx: FastHandlerContext) => unknown;

export function fastRoutes(
  services: readonly ServiceInstance[],
  interceptors: readonly Interceptor[],
): Map<string, FastRoute> {
  const routes = new Map<string, FastRoute>();
  for (const s of services) {
    const impl = s.impl as unknown as Record<string, UnaryImpl | undefined>;
    for (const m of s.desc.methods) {
      if (m.methodKind !== "unary") continue;
      const method = m as DescMethodUnary;
      const fn = impl[method.localName];
      // Unimplemented methods stay with connect-node, which answers UNIMPLEMENTED.
      if (typeof fn !== "function") continue;
      const inner: AnyFn = async (req) => {
        // A request copied by an interceptor keeps `call` (an own property); see call.ts.
        const call = (req as FastRequest).call;
        const out = await fn.call(impl, req.message, new FastHandlerContext(call, req));
        const message = isMessage(out, method.output) ? out : create(method.output, out as Record<string, unknown>);
        return new FastResponse(call, method, message);
      };
      routes.set(`/${s.desc.typeName}/${method.name}`, {
        method,
        // Connect wraps the interceptors around each call anew (an interceptor may keep per-call state in the
        // closure it returns); a closure per interceptor per call is cheap.
        invoke: (req) => {
          let next = inner;
          for (let i = interceptors.length - 1; i >= 0; i--) next = interceptors[i]!(next as never) as AnyFn;
          return next(req);
        },
      });
    }
  }
  return routes;
}
