/**
 * The RPC fast path: unary calls over gRPC (h2c), gRPC-Web and Connect, and server streams over gRPC and
 * gRPC-Web, served with protobuf-es directly and the same Connect interceptors and `ServiceImpl` that
 * connect-node's router uses, without its universal request and response machinery (a `new URL`, six
 * `Headers`, linked AbortSignals and async-iterable pipelines per call, which cost ~95% of a KV call). Client
 * and bidi streams, Connect streaming and GET, gRPC-Web text, gRPC over HTTP/1.1 and any content type not
 * recognised return `false` untouched and go to connect-node.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { Code, ConnectError, type ContextValues, type Interceptor } from "@connectrpc/connect";
import { type Compression, compressionNegotiate } from "@connectrpc/connect/protocol";
import { parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";
import type { Message } from "@bufbuild/protobuf";
import type { Logger } from "../../shared/log.js";
import { logFailure, toRpcError } from "../failures.js";
import type { ServiceInstance } from "../../services/module.js";
import { discardRestOfBody } from "../body.js";
import { serverStopping } from "../../shared/stopping.js";
import { Call } from "./call.js";
import { adoptResponse, FastRequest, FastStreamRequest } from "./exchange.js";
import { FLAG_COMPRESSED, unwrapEnvelope } from "./envelope.js";
import { type Codec, codecFor } from "./codec.js";
import { wireOf, type Wire } from "./protocol.js";
import { type NodeResponse, writeAnswer } from "./respond.js";
import { readRequest } from "./read.js";
import { StreamWriter } from "./stream.js";
import { fastRoutes, type FastRoute } from "./routes.js";

export interface FastRpcOptions {
  services: readonly ServiceInstance[];
  /** The router's interceptor list, applied around every call exactly as connect-node applies it. */
  interceptors: readonly Interceptor[];
  /** Largest request message, compressed or not (connect-node's `readMaxBytes`). */
  readMaxBytes: number;
  /** Compressions offered, in order of preference (connect-node's default: gzip, br). */
  acceptCompression: readonly Compression[];
  /** Smaller responses are sent uncompressed (connect-es's default is 1 KiB). */
  compressMinBytes?: number;
  shutdownSignal?: AbortSignal;
  /** Handed to implementations as the `serverStopping` context value, as the adapter does (long-polls end). */
  stoppingSignal?: AbortSignal;
  /**
   * Adds the server's per-request context values taken from the Node request (the policy's request state), as
   * the adapter's `contextValues` option does.
   */
  requestValues?: (req: NodeRequest, values: ContextValues) => void;
  log: Logger;
}

type NodeRequest = IncomingMessage | Http2ServerRequest;
type Answerer = (body: Uint8Array | undefined, error: ConnectError | undefined) => void;

/** Response headers every answer carries (the server's trace id). */
export interface TraceHeaders {
  traceId: string;
  traceparent?: string;
}

/**
 * Returns a handler that serves the request and returns true, or returns false having touched nothing.
 * `trace` headers, when given, go out with the answer.
 */
export function createFastRpc(
  opts: FastRpcOptions,
): (req: NodeRequest, res: NodeResponse, trace?: TraceHeaders) => boolean {
  const routes = fastRoutes(opts.services, opts.interceptors);
  const codecs = new Map<FastRoute, [Codec, Codec]>();
  for (const r of routes.values()) codecs.set(r, [codecFor(r.method, true), codecFor(r.method, false)]);
  const accept = opts.acceptCompression as Compression[];
  const compressMinBytes = opts.compressMinBytes ?? 1024;
  const readMax = opts.readMaxBytes;

  // Negotiation results by (requested, accepted) header values: clients send the same few on every call, and
  // most send neither (then no key string is built at all).
  const negotiated = new Map<string, ReturnType<typeof compressionNegotiate>>();
  const none = new Map<Wire, ReturnType<typeof compressionNegotiate>>();
  const negotiate = (wire: Wire, requested: string | null, accepted: string | null) => {
    if (requested === null && accepted === null) {
      let c = none.get(wire);
      if (c === undefined) none.set(wire, (c = compressionNegotiate(accept, null, null, wire.acceptEncodingHeader)));
      return c;
    }
    const key = `${wire.acceptEncodingHeader}\n${requested}\n${accepted}`;
    let c = negotiated.get(key);
    if (c === undefined) {
      c = compressionNegotiate(accept, requested, accepted, wire.acceptEncodingHeader);
      if (negotiated.size < 256) negotiated.set(key, c);
    }
    return c;
  };

  function serve(
    route: FastRoute,
    wire: Wire,
    req: NodeRequest,
    res: NodeResponse,
    trace: TraceHeaders | undefined,
  ): void {
    const h = req.headers;
    const timeoutHeader = header(h[wire.enveloped ? "grpc-timeout" : "connect-timeout-ms"]);
    const timeout =
      timeoutHeader === null
        ? undefined
        : (wire.enveloped ? parseGrpcTimeout : parseConnectTimeout)(timeoutHeader, Number.MAX_SAFE_INTEGER);
    const comp = negotiate(wire, header(h[wire.encodingHeader]), header(h[wire.acceptEncodingHeader]));
    const early = timeout?.error ?? comp.error;
    const authority = (req as Http2ServerRequest).authority ?? h.host ?? "localhost";
    const call = new Call(
      h,
      `http://${authority}${req.url}`,
      "POST",
      // HTTP/2: the stream itself says whether it finished or was reset.
      req.httpVersionMajor === 2 ? (res as Http2ServerResponse).stream : (res as ServerResponse),
      early === undefined ? timeout?.timeoutMs : undefined,
      opts.shutdownSignal,
      wire.protocol,
    );
    if (opts.stoppingSignal) call.values.set(serverStopping, opts.stoppingSignal);
    opts.requestValues?.(req, call.values);
    let answered = false;
    const answer: Answerer = (body, error) => {
      if (answered) return;
      answered = true;
      call.finish();
      const closeConnection = req.httpVersionMajor === 1 && !req.complete;
      const failed = (err: unknown) => {
        opts.log.error("rpc.write_failed", { method: req.url, error: String(err) });
        res.destroy();
      };
      const after = () => {
        if (closeConnection) discardRestOfBody(req as IncomingMessage);
      };
      try {
        const pending = writeAnswer(res, wire, {
          body,
          error,
          header: call.responseHeaderIfAny,
          trailer: call.responseTrailerIfAny,
          compression: comp.response,
          compressMinBytes,
          closeConnection,
          trace,
        });
        if (pending === undefined) after();
        else pending.then(after, failed);
      } catch (err) {
        failed(err);
      }
    };
    // Deadline, client gone or shutdown: answer now (a client that left gets nothing); the handler's late
    // result is dropped.
    call.onAbort = (reason) => answer(undefined, ConnectError.from(reason));
    if (early !== undefined) {
      answer(undefined, early);
      return;
    }
    const failed = (e: unknown) => answer(undefined, toConnectError(e));
    readRequest(req, wire.enveloped ? readMax + 5 : readMax, (err, body) => {
      if (err !== undefined) {
        answer(undefined, err);
        return;
      }
      try {
        const codec = codecs.get(route)![wire.binary ? 0 : 1];
        const bytes = unwrap(wire, comp.request, body);
        const invoke = route.kind === "unary" ? unary(route, call, codec, answer) : stream(route, call, codec);
        // Only a compressed request needs to wait before decoding; the common case stays synchronous.
        (bytes instanceof Promise ? bytes.then(invoke) : invoke(bytes)).catch(failed);
      } catch (e) {
        failed(e);
      }
    });

    /** A server stream: from its first message on, the writer answers (and an abort ends the stream). */
    function stream(r: FastRoute & { kind: "server_streaming" }, c: Call, codec: Codec) {
      return async (bytes: Uint8Array) => {
        const out = await r.invoke(new FastStreamRequest(c, r.method, codec.parse(bytes)));
        if (answered) return;
        answered = true;
        adoptResponse(c, out);
        const toError = (err: unknown) => {
          logFailure(opts.log, "rpc.failed", { method: req.url }, err);
          return toRpcError(err);
        };
        const output = wire.binary ? r.method.output : undefined;
        const writer = new StreamWriter(res, wire, c, codec, comp.response, compressMinBytes, trace, toError, output);
        c.onAbort = (reason) => writer.end(ConnectError.from(reason));
        await writer.run(out.message as AsyncIterable<Message>);
      };
    }
  }

  function unary(r: FastRoute & { kind: "unary" }, call: Call, codec: Codec, answer: Answerer) {
    return (bytes: Uint8Array) =>
      r.invoke(new FastRequest(call, r.method, codec.parse(bytes))).then((out) => {
        adoptResponse(call, out);
        answer(codec.serialize(out.message), undefined);
      });
  }

  /** The request message's bytes: out of its envelope, decompressed if it was sent compressed. */
  function unwrap(wire: Wire, decompress: Compression | null, body: Uint8Array): Uint8Array | Promise<Uint8Array> {
    if (!wire.enveloped) return decompress === null ? body : decompress.decompress(body, readMax);
    const env = unwrapEnvelope(body, readMax);
    if ((env.flags & FLAG_COMPRESSED) === 0) return env.data;
    if (decompress === null)
      throw new ConnectError(
        "protocol error: received compressed envelope, but no grpc-encoding was sent",
        Code.Internal,
      );
    return decompress.decompress(env.data, readMax);
  }

  return (req, res, trace) => {
    if (req.method !== "POST") return false;
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const route = routes.get(q < 0 ? url : url.slice(0, q));
    if (route === undefined) return false;
    const wire = wireOf(req.headers["content-type"], req.httpVersionMajor);
    if (wire === undefined) return false;
    // Connect's streaming protocol (its own media types, an end-of-stream message) stays with connect-node.
    if (route.kind !== "unary" && wire.protocol === "connect") return false;
    serve(route, wire, req, res, trace);
    return true;
  };
}

function header(v: string | string[] | undefined): string | null {
  return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
}

/** Errors raised outside the interceptors (envelope, decoding, encoding) never leak an unexpected text. */
function toConnectError(err: unknown): ConnectError {
  return err instanceof ConnectError ? err : new ConnectError("internal error", Code.Internal);
}
