/**
 * A request body that is not valid protobuf is the client's mistake: INVALID_ARGUMENT (HTTP 400 over Connect),
 * not INTERNAL. connect-es reports every binary parse failure as `Code.Internal` ("parse binary: …"), the same
 * code it uses for a server that cannot encode its own answer, and it parses unary requests before any
 * interceptor runs. So: streaming calls are fixed in the RPC interceptor (`asClientError`), unary ones by
 * wrapping each universal handler and correcting the error it has already encoded, per protocol.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";

import { undecodableRequest } from "./failures.js";

const PREFIX = "parse binary: ";
const GRPC_PREFIX = encodeURIComponent(PREFIX);

/** The message a client sees for a body that does not decode as the method's input type. */
function clientMessage(method: DescMethod, detail: string): string {
  return undecodableRequest(method.input.typeName, detail).rawMessage;
}

/** The INVALID_ARGUMENT error that replaces connect-es's INTERNAL for an undecodable request message. */
export function asClientError(err: ConnectError, method: DescMethod): ConnectError | undefined {
  if (err.code !== Code.Internal || !err.rawMessage.startsWith(PREFIX)) return undefined;
  return new ConnectError(clientMessage(method, err.rawMessage.slice(PREFIX.length)), Code.InvalidArgument);
}

/**
 * Replaces every unary handler of `router` (call it after all services are registered) with one that reports
 * parse errors right. A successful call costs a status check (Connect), a trailer lookup (gRPC) or a check of
 * the first frame (gRPC-Web).
 */
export function fixParseErrors(router: ConnectRouter): void {
  const handlers = router.handlers as UniversalHandler[];
  for (let i = 0; i < handlers.length; i++) {
    const h = handlers[i]!;
    if (h.method.methodKind !== "unary") continue;
    const wrapped = (async (req) => {
      const res = await h(req);
      const type = req.header.get("content-type") ?? "";
      if (type.startsWith("application/grpc-web")) return grpcWeb(res, h.method);
      if (type.startsWith("application/grpc")) {
        // The parse error happens before the first output, which the handler awaits: the trailer is final here.
        if (res.trailer) grpcTrailer(res.trailer, h.method);
        return res;
      }
      return res.status === 500 ? await connectUnary(res, h.method) : res;
    }) as UniversalHandler;
    handlers[i] = Object.assign(wrapped, {
      protocolNames: h.protocolNames,
      service: h.service,
      method: h.method,
      requestPath: h.requestPath,
      allowedMethods: h.allowedMethods,
      supportedContentType: h.supportedContentType,
    });
  }
}

/** Connect unary: the error is a JSON body with HTTP 500. */
async function connectUnary(res: UniversalServerResponse, method: DescMethod): Promise<UniversalServerResponse> {
  if (!res.body || !(Symbol.asyncIterator in res.body)) return res;
  const chunks: Uint8Array[] = [];
  for await (const c of res.body as AsyncIterable<Uint8Array>) chunks.push(c);
  const bytes = Buffer.concat(chunks);
  const fixed = connectBody(bytes, method);
  if (!fixed) return { ...res, body: once(bytes) };
  res.header?.set("content-length", String(fixed.byteLength));
  return { ...res, status: 400, body: once(fixed) };
}

/** gRPC-Web: the status travels in a trailer frame in the body; on a parse error it is the first and only one. */
function grpcWeb(res: UniversalServerResponse, method: DescMethod): UniversalServerResponse {
  if (!res.body || !(Symbol.asyncIterator in res.body)) return res;
  const it = (res.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  let first = true;
  const body: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const r = await it.next();
        if (!first || r.done) return r;
        first = false;
        return { done: false, value: grpcWebFrame(r.value, method) ?? r.value };
      },
      return: async (v?: unknown) => (await it.return?.(v)) ?? { done: true, value: undefined },
      throw: async (e?: unknown) => {
        if (it.throw) return it.throw(e);
        throw e;
      },
    }),
  };
  return { ...res, body };
}

async function* once(bytes: Uint8Array) {
  yield bytes;
}

function connectBody(bytes: Uint8Array, method: DescMethod): Uint8Array | undefined {
  let err: { code?: unknown; message?: unknown };
  try {
    err = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return undefined;
  }
  if (err.code !== "internal" || typeof err.message !== "string" || !err.message.startsWith(PREFIX)) return undefined;
  const message = clientMessage(method, err.message.slice(PREFIX.length));
  return Buffer.from(JSON.stringify({ code: "invalid_argument", message }));
}

function grpcTrailer(trailer: Headers, method: DescMethod) {
  const message = trailer.get("grpc-message");
  if (trailer.get("grpc-status") !== String(Code.Internal) || !message?.startsWith(GRPC_PREFIX)) return;
  trailer.set("grpc-status", String(Code.InvalidArgument));
  trailer.set(
    "grpc-message",
    encodeURIComponent(clientMessage(method, decodeURIComponent(message).slice(PREFIX.length))),
  );
}

/** An uncompressed gRPC-Web trailer frame (flag 0x80) carrying the parse error, rewritten; else undefined. */
function grpcWebFrame(chunk: Uint8Array, method: DescMethod): Uint8Array | undefined {
  if (chunk.byteLength < 5 || chunk[0] !== 0x80) return undefined;
  const text = Buffer.from(chunk.subarray(5)).toString("latin1");
  const status = /^grpc-status: *(\d+)\r?$/im.exec(text)?.[1];
  const message = /^grpc-message: *(.*?)\r?$/im.exec(text)?.[1];
  if (status !== String(Code.Internal) || !message?.startsWith(GRPC_PREFIX)) return undefined;
  const detail = decodeURIComponent(message).slice(PREFIX.length);
  const fixed = Buffer.from(
    `grpc-status: ${Code.InvalidArgument}\r\ngrpc-message: ${encodeURIComponent(clientMessage(method, detail))}\r\n`,
    "latin1",
  );
  const head = Buffer.alloc(5);
  head[0] = 0x80;
  head.writeUInt32BE(fixed.byteLength, 1);
  return Buffer.concat([head, fixed]);
}
