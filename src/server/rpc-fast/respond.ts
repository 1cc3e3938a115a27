/**
 * Writing a unary answer in each protocol's shape, success or error, as connect-es writes it:
 * gRPC — 200, the message envelope, `grpc-status` (+ `grpc-message`, `grpc-status-details-bin`) as trailers;
 * gRPC-Web — the same, the trailers as a last envelope in the body;
 * Connect — the bare message, or the HTTP status of the code with the error as JSON; trailers as `trailer-*`.
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import type { ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { FLAG_COMPRESSED, grpcWebTrailer, wrapEnvelope } from "./envelope.js";
import type { Wire } from "./protocol.js";

export type NodeResponse = ServerResponse | Http2ServerResponse;

export interface Answer {
  /** The encoded response message; undefined for an error. */
  body: Uint8Array | undefined;
  error: ConnectError | undefined;
  header: Headers | undefined;
  trailer: Headers | undefined;
  /** Chosen response compression (negotiated from the request), if any. */
  compression: Compression | null;
  compressMinBytes: number;
  /** HTTP/1.1 only: the request body was not read to its end, so the connection must close after this. */
  closeConnection: boolean;
  trace?: { traceId: string; traceparent?: string };
}

const GRPC_OK = { "grpc-status": "0" } as const;

export function into(out: Record<string, string>, h: Headers | undefined, prefix = ""): Record<string, string> {
  h?.forEach((v, k) => {
    out[prefix + k] = v;
  });
  return out;
}

/** The gRPC status trailers (`grpc-status`, `grpc-message`, details) after the trailers the call set. */
export function grpcTrailer(a: Pick<Answer, "error" | "trailer">): Record<string, string> {
  if (a.error === undefined) {
    if (a.trailer === undefined) return GRPC_OK;
    const t = into({}, a.trailer);
    t["grpc-status"] = "0";
    return t;
  }
  const t = into({}, setTrailerStatus(new Headers(a.trailer), a.error));
  t["grpc-message"] = grpcMessage(a.error.rawMessage);
  return t;
}

/**
 * Percent-encodes a status message as the gRPC spec asks: only `%` and bytes outside printable ASCII.
 * connect-es uses encodeURIComponent, which also encodes `:` and `/`; grpc-js decodes with decodeURI, which
 * leaves those escaped, so its users saw "key not found%3A x".
 */
export function grpcMessage(text: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = "";
  for (const b of Buffer.from(text, "utf8")) {
    out +=
      b >= 0x20 && b <= 0x7e && b !== 0x25
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * Writes the answer. Synchronous unless a body is to be compressed (then it resolves once written): the
 * common path allocates no promise.
 */
export function writeAnswer(res: NodeResponse, wire: Wire, a: Answer): Promise<void> | undefined {
  if (res.destroyed || res.writableEnded) return; // the client left; nothing to say
  const head: OutgoingHttpHeaders = into({}, a.header);
  if (a.trace !== undefined) {
    head["x-trace-id"] = a.trace.traceId;
    if (a.trace.traceparent !== undefined) head.traceparent = a.trace.traceparent;
  }
  if (a.closeConnection) head.connection = "close";
  if (wire.protocol === "connect") {
    let status = 200;
    let body: Uint8Array;
    if (a.error === undefined) {
      body = a.body!;
      head["content-type"] = wire.contentType;
    } else {
      status = codeToHttpStatus(a.error.code);
      a.error.metadata.forEach((v, k) => {
        head[k] = v;
      });
      head["content-type"] = "application/json";
      body = errorToJsonBytes(a.error, undefined);
    }
    into(head as Record<string, string>, a.trailer, "trailer-");
    const c = a.compression;
    if (c !== null && body.byteLength >= a.compressMinBytes) {
      head["content-encoding"] = c.name;
      return c.compress(body).then((z) => endConnect(res, status, head, z));
    }
    endConnect(res, status, head, body);
    return undefined;
  }
  head["content-type"] = wire.contentType;
  if (a.compression !== null) head["grpc-encoding"] = a.compression.name;
  const c = a.compression;
  if (a.body !== undefined && c !== null && a.body.byteLength >= a.compressMinBytes) {
    return c.compress(a.body).then((z) => endEnveloped(res, wire, a, head, wrapEnvelope(FLAG_COMPRESSED, z)));
  }
  endEnveloped(res, wire, a, head, a.body === undefined ? undefined : wrapEnvelope(0, a.body));
  return undefined;
}

function endConnect(res: NodeResponse, status: number, head: OutgoingHttpHeaders, body: Uint8Array) {
  if (res.destroyed || res.writableEnded) return;
  head["content-length"] = body.byteLength;
  (res as ServerResponse).writeHead(status, head);
  res.end(body);
}

function endEnveloped(
  res: NodeResponse,
  wire: Wire,
  a: Answer,
  head: OutgoingHttpHeaders,
  message: Buffer | undefined,
): void {
  if (res.destroyed || res.writableEnded) return;
  const trailer = grpcTrailer(a);
  if (wire.protocol === "grpc") {
    (res as Http2ServerResponse).writeHead(200, head);
    res.addTrailers(trailer);
    if (message === undefined) res.end();
    else res.end(message);
    return;
  }
  const tail = grpcWebTrailer(trailer);
  const body = message === undefined ? tail : Buffer.concat([message, tail], message.byteLength + tail.byteLength);
  head["content-length"] = body.byteLength;
  (res as ServerResponse).writeHead(200, head);
  res.end(body);
}
