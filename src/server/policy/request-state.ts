/**
 * What the server learns about one request before any service runs: the client certificate's names, the
 * principal once identified, and the access-log record the layers below fill in. It travels on the Node
 * request (for the REST layer) and in the Connect context values (for interceptors and the guarded services),
 * so that identification happens once and every layer reads the same answer.
 */
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { TLSSocket } from "node:tls";
import { type ContextValues, createContextKey } from "@connectrpc/connect";
import type { Principal } from "./policy.js";

/** Fields of the access-log line that only the layers below know. */
export interface AccessRecord {
  token?: string;
  service?: string;
  method?: string;
  resources?: readonly string[];
  /** Error code when the call failed (REST envelope code or Connect code name). */
  code?: string;
}

export interface RequestState {
  /** Client certificate subject CN and URI SANs, when the connection is mTLS. */
  readonly peer: readonly string[] | undefined;
  caller: Principal | undefined;
  readonly record: AccessRecord | undefined;
}

export const REQUEST_STATE = createContextKey<RequestState | undefined>(undefined, {
  description: "mikcar request state",
});

const STATE = Symbol("mikcar.request");
type Carrier = { [STATE]?: RequestState };

export function attachState(req: IncomingMessage | Http2ServerRequest, state: RequestState): void {
  (req as Carrier)[STATE] = state;
}

export function stateOf(req: IncomingMessage | Http2ServerRequest): RequestState | undefined {
  return (req as Carrier)[STATE];
}

/** The request's state in context values (made here when no layer above made one, e.g. in-process calls). */
export function stateIn(values: ContextValues): RequestState {
  let s = values.get(REQUEST_STATE);
  if (!s) {
    s = { peer: undefined, caller: undefined, record: undefined };
    values.set(REQUEST_STATE, s);
  }
  return s;
}

const peers = new WeakMap<object, readonly string[]>();

/**
 * The verified client certificate's names (subject CN, URI SANs such as SPIFFE ids), once per connection.
 * Undefined on plaintext connections and when no verified certificate was presented.
 */
export function peerNames(req: IncomingMessage | Http2ServerRequest): readonly string[] | undefined {
  const socket = ((req as Http2ServerRequest).stream?.session?.socket ?? req.socket) as TLSSocket | undefined;
  if (!socket || typeof socket.getPeerCertificate !== "function" || !socket.authorized) return undefined;
  let names = peers.get(socket);
  if (!names) {
    const cert = socket.getPeerCertificate();
    const out: string[] = [];
    const cn = cert?.subject?.CN;
    if (typeof cn === "string") out.push(cn);
    else if (Array.isArray(cn)) out.push(...(cn as string[]));
    for (const part of (cert?.subjectaltname ?? "").split(", ")) if (part.startsWith("URI:")) out.push(part.slice(4));
    peers.set(socket, (names = out));
  }
  return names;
}
