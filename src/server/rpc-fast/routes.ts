/**
 * The fast path's routing table: `/package.Service/Method` → the unary or server-streaming method, its
 * implementation (the one in `instance.impl`, the same the Connect router serves) and the interceptor chain
 * around it. Client and bidi streams are not here: they stay with connect-node.
 */
import {
  create,
  isMessage,
  type DescMessage,
  type DescMethodServerStreaming,
  type DescMethodUnary,
} from "@bufbuild/protobuf";
import type { Interceptor, StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import type { ServiceInstance } from "../../services/module.js";
import {
  type FastRequest,
  FastHandlerContext,
  FastResponse,
  type FastStreamRequest,
  FastStreamResponse,
} from "./exchange.js";

export type FastRoute =
  | {
      readonly kind: "unary";
      readonly method: DescMethodUnary;
      /** Runs the interceptors and the implementation. */
      invoke(req: FastRequest): Promise<UnaryResponse>;
    }
  | {
      readonly kind: "server_streaming";
      readonly method: DescMethodServerStreaming;
      invoke(req: FastStreamRequest): Promise<StreamResponse>;
    };

type AnyFn = (req: UnaryRequest | StreamRequest) => Promise<UnaryResponse | StreamResponse>;
type Impl = (req: unknown, ctx: FastHandlerContext) => unknown;

function normalize(desc: DescMessage, out: unknown) {
  return isMessage(out, desc) ? out : create(desc, out as Record<string, unknown>);
}

/** The implementation's output as messages of the method's type (it may yield partial init objects). */
async function* normalized(desc: DescMessage, out: AsyncIterable<unknown>) {
  for await (const m of out) yield normalize(desc, m);
}

/** The single input of a server-streaming call, as connect-es takes it from the request's iterable. */
async function single(input: AsyncIterable<unknown>): Promise<unknown> {
  for await (const m of input) return m;
  throw new Error("missing input message");
}

export function fastRoutes(
  services: readonly ServiceInstance[],
  interceptors: readonly Interceptor[],
): Map<string, FastRoute> {
  // Connect wraps the interceptors around each call anew (an interceptor may keep per-call state in the closure
  // it returns); a closure per interceptor per call is cheap.
  const chain = (inner: AnyFn): AnyFn => {
    return (req) => {
      let next = inner;
      for (let i = interceptors.length - 1; i >= 0; i--) next = interceptors[i]!(next as never) as AnyFn;
      return next(req);
    };
  };
  const routes = new Map<string, FastRoute>();
  for (const s of services) {
    const impl = s.impl as unknown as Record<string, Impl | undefined>;
    for (const m of s.desc.methods) {
      const fn = impl[m.localName];
      // Unimplemented methods stay with connect-node, which answers UNIMPLEMENTED.
      if (typeof fn !== "function") continue;
      const path = `/${s.desc.typeName}/${m.name}`;
      if (m.methodKind === "unary") {
        const method = m as DescMethodUnary;
        const inner: AnyFn = async (req) => {
          // A request copied by an interceptor keeps `call` (an own property); see call.ts.
          const call = (req as FastRequest).call;
          const out = await fn.call(impl, req.message, new FastHandlerContext(call, req));
          return new FastResponse(call, method, normalize(method.output, out));
        };
        routes.set(path, { kind: "unary", method, invoke: chain(inner) as (r: FastRequest) => Promise<UnaryResponse> });
      } else if (m.methodKind === "server_streaming") {
        const method = m as DescMethodServerStreaming;
        const inner: AnyFn = async (req) => {
          const call = (req as FastStreamRequest).call;
          const input = await single(req.message as AsyncIterable<unknown>);
          const out = fn.call(impl, input, new FastHandlerContext(call, req)) as AsyncIterable<unknown>;
          return new FastStreamResponse(call, method, normalized(method.output, out));
        };
        routes.set(path, {
          kind: "server_streaming",
          method,
          invoke: chain(inner) as (r: FastStreamRequest) => Promise<StreamResponse>,
        });
      }
    }
  }
  return routes;
}
