/**
 * The unary fast path against connect-node itself: one server with the fast path in front of the adapter (as
 * server.ts mounts it), one with the adapter alone, the same interceptors and implementation on both. What
 * interceptors and handlers see must match; then what the protocols promise, over raw HTTP where a client
 * library would hide it: deadlines, cancellation, metadata and trailers, compression, limits, bad input.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import { gunzipSync, gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createClient,
  createContextKey,
  type HandlerContext,
  type Interceptor,
  type ServiceImpl,
  type Transport,
} from "@connectrpc/connect";
import {
  compressionBrotli,
  compressionGzip,
  connectNodeAdapter,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetRequestSchema, KvService, SetRequestSchema } from "../../gen/mikcar/kv/v1/kv_pb.js";
import { DownloadResponseSchema } from "../../gen/mikcar/storage/v1/storage_pb.js";
import { PolicyEvents } from "../../src/server/policy/events.js";
import { createGate } from "../../src/server/policy/gate.js";
import { DEFAULT_LIMITS } from "../../src/server/server.js";
import { listenDual, type DualListener } from "../../src/server/listener.js";
import { largeBytesParts } from "../../src/server/rpc-fast/codec.js";
import { createFastRpc } from "../../src/server/rpc-fast/handler.js";
import { rpcInterceptors } from "../../src/server/rpc.js";
import type { ServiceInstance } from "../../src/services/module.js";
import { createLogger } from "../../src/shared/log.js";

const KEY = createContextKey("unset", { description: "test" });
const LIMIT = 64 * 1024;

interface Seen {
  req?: Record<string, unknown>;
  ctx?: Record<string, unknown>;
  abort?: unknown;
}
let seen: Seen = {};
let released: (() => void) | undefined;

const impl: Partial<ServiceImpl<typeof KvService>> = {
  async get(req, ctx: HandlerContext) {
    seen.ctx = {
      protocol: ctx.protocolName,
      header: ctx.requestHeader.get("x-in"),
      value: ctx.values.get(KEY),
      method: ctx.method.name,
      service: ctx.service.typeName,
      requestMethod: ctx.requestMethod,
      url: ctx.url.replace(/:\d+/, ":PORT"),
    };
    if (req.key === "wait") {
      await new Promise<void>((resolve, reject) => {
        released = resolve;
        ctx.signal.addEventListener("abort", () => {
          seen.abort = ctx.signal.reason;
          reject(ctx.signal.reason);
        });
      });
    }
    if (req.key === "missing") throw new ConnectError("key not found: missing", Code.NotFound, { "x-err": "e" });
    if (req.key === "crash") throw new Error("driver said: password=hunter2");
    if (req.key === "detailed")
      throw new ConnectError("with details", Code.FailedPrecondition, undefined, [
        { desc: GetRequestSchema, value: { key: "the detail" } },
      ]);
    ctx.responseHeader.set("x-out", "h");
    ctx.responseTrailer.set("x-trail", "t");
    return { value: req.key === "big" ? Buffer.alloc(8192, "a") : new TextEncoder().encode(req.key) };
  },
};

const recorder: Interceptor = (next) => async (req) => {
  seen.req = {
    stream: req.stream,
    service: req.service.typeName,
    method: req.method.name,
    requestMethod: req.requestMethod,
    url: req.url.replace(/:\d+/, ":PORT"),
    header: req.header.get("x-in"),
    hasSignal: req.signal instanceof AbortSignal,
    message: req.stream ? undefined : (req.message as unknown as { key: string }).key,
  };
  req.contextValues.set(KEY, "from-interceptor");
  const res = await next(req);
  if (!res.stream) res.header.set("x-from-interceptor", "yes");
  return res;
};

const instance = {
  backend: "test",
  desc: KvService,
  impl: impl as ServiceImpl<typeof KvService>,
  rest: () => [],
  healthy: async () => true,
  close: async () => {},
} satisfies ServiceInstance<typeof KvService>;

const log = createLogger("silent");
const limits = { maxBodyBytes: LIMIT, requestTimeoutMs: 10_000 };
const interceptors = [recorder, ...rpcInterceptors({ auth: createGate({ events: new PolicyEvents() }), limits, log })];
const acceptCompression = [compressionGzip, compressionBrotli];

async function serve(withFastPath: boolean): Promise<DualListener> {
  const adapter = connectNodeAdapter({
    routes: (r) => r.service(KvService, instance.impl),
    interceptors,
    acceptCompression,
    readMaxBytes: LIMIT,
  });
  const fast = createFastRpc({ services: [instance], interceptors, readMaxBytes: LIMIT, acceptCompression, log });
  return listenDual(
    { port: 0, host: "127.0.0.1" },
    (req, res) => {
      if (!withFastPath || !fast(req, res)) adapter(req, res);
    },
    DEFAULT_LIMITS,
  );
}

let fastServer: DualListener;
let plainServer: DualListener;
beforeAll(async () => {
  [fastServer, plainServer] = await Promise.all([serve(true), serve(false)]);
});
afterAll(() => Promise.all([fastServer.close(100), plainServer.close(100)]));

const transports: Record<string, (base: string) => Transport> = {
  "connect json h1": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1" }),
  "connect binary h2c": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
  "grpc-web h1": (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
  "grpc h2c": (baseUrl) => createGrpcTransport({ baseUrl }),
};

describe.each(Object.keys(transports))("%s: fast path and connect-node agree", (name) => {
  const client = (l: DualListener) => createClient(KvService, transports[name]!(`http://${l.address}`));

  it("on what interceptors and the handler see, and on headers and trailers", async () => {
    const observe = async (l: DualListener) => {
      seen = {};
      const header: Record<string, string> = {};
      const trailer: Record<string, string> = {};
      const res = await client(l).get(
        { key: "k1" },
        {
          headers: { "x-in": "in" },
          onHeader: (h) => h.forEach((v, k) => (header[k] = v)),
          onTrailer: (t) => t.forEach((v, k) => (trailer[k] = v)),
        },
      );
      return {
        seen,
        value: new TextDecoder().decode(res.value),
        header: { out: header["x-out"], interceptor: header["x-from-interceptor"] },
        trailer: trailer["x-trail"],
      };
    };
    const fast = await observe(fastServer);
    const plain = await observe(plainServer);
    expect(fast).toEqual(plain);
    expect(fast.seen.req).toMatchObject({ stream: false, message: "k1", header: "in", hasSignal: true });
    expect(fast.seen.ctx).toMatchObject({ value: "from-interceptor", header: "in" });
    expect(fast).toMatchObject({ value: "k1", header: { out: "h", interceptor: "yes" }, trailer: "t" });
  });

  it("on errors: code, message and metadata; an unexpected error says only 'internal error'", async () => {
    const fail = (l: DualListener, key: string) =>
      client(l)
        .get({ key })
        .then(
          () => new ConnectError("unexpected success"),
          (e) => ConnectError.from(e),
        );
    for (const key of ["missing", "crash", "detailed"]) {
      const [a, b] = await Promise.all([fail(fastServer, key), fail(plainServer, key)]);
      const shape = (e: ConnectError) => [
        e.code,
        e.rawMessage,
        e.metadata.get("x-err"),
        e.findDetails(GetRequestSchema),
      ];
      expect(shape(a)).toEqual(shape(b));
    }
    const detailed = await fail(fastServer, "detailed");
    expect(detailed.findDetails(GetRequestSchema).map((d) => d.key)).toEqual(["the detail"]);
    expect((await fail(fastServer, "crash")).rawMessage).toBe("internal error");
  });

  it("on a client deadline: DEADLINE_EXCEEDED, and the handler's signal is aborted", async () => {
    seen = {};
    const err = await client(fastServer)
      .get({ key: "wait" }, { timeoutMs: 200 })
      .then(
        () => new ConnectError("unexpected success"),
        (e) => ConnectError.from(e),
      );
    expect(err.code).toBe(Code.DeadlineExceeded);
    await expect.poll(() => seen.abort).toBeInstanceOf(ConnectError);
    // The client's own timer may close the call first; then the handler hears of a cancelled call instead.
    expect([Code.DeadlineExceeded, Code.Canceled]).toContain((seen.abort as ConnectError).code);
    released = undefined;
  });

  it("on a cancelled call: the handler's signal is aborted", async () => {
    seen = {};
    released = undefined;
    const ac = new AbortController();
    const call = client(fastServer).get({ key: "wait" }, { signal: ac.signal });
    await expect.poll(() => released).toBeDefined();
    ac.abort();
    await expect(call).rejects.toThrow();
    await expect.poll(() => seen.abort).toBeInstanceOf(ConnectError);
    released = undefined;
  });
});

/** One raw HTTP/1.1 request. */
function h1(path: string, headers: Record<string, string>, body: Buffer) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = http.request(`http://${fastServer.address}${path}`, { method: "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** One raw HTTP/2 request, with its trailers. */
function h2(path: string, headers: Record<string, string>, body: Buffer) {
  return new Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; body: Buffer }>(
    (resolve, reject) => {
      const session = http2.connect(`http://${fastServer.address}`);
      const req = session.request({ ":method": "POST", ":path": path, ...headers });
      let head: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      req.on("response", (h) => (head = h));
      req.on("trailers", (t) => (trailers = t));
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        session.close();
        resolve({ headers: head, trailers, body: Buffer.concat(chunks) });
      });
      req.on("error", reject);
      req.end(body);
    },
  );
}

const envelope = (msg: Uint8Array, flags = 0) => {
  const out = Buffer.alloc(5 + msg.length);
  out[0] = flags;
  out.writeUInt32BE(msg.length, 1);
  out.set(msg, 5);
  return out;
};
const getBytes = (key: string) => toBinary(GetRequestSchema, create(GetRequestSchema, { key }));
const GET = "/mikcar.kv.v1.KvService/Get";

describe("protocol details on the wire", () => {
  it("Connect: gzip request and response, negotiated by Content-Encoding and Accept-Encoding", async () => {
    const r = await h1(
      GET,
      { "content-type": "application/json", "content-encoding": "gzip", "accept-encoding": "gzip" },
      gzipSync('{"key":"big"}'),
    );
    expect(r.status).toBe(200);
    expect(r.headers["content-encoding"]).toBe("gzip");
    expect(JSON.parse(gunzipSync(r.body).toString()).value).toBe(Buffer.alloc(8192, "a").toString("base64"));
    // Small answers are not worth compressing.
    const small = await h1(
      GET,
      { "content-type": "application/json", "accept-encoding": "gzip" },
      Buffer.from('{"key":"s"}'),
    );
    expect(small.headers["content-encoding"]).toBeUndefined();
  });

  it("gRPC: a gzip envelope in, grpc-encoding negotiated, a compressed envelope out", async () => {
    const r = await h2(
      GET,
      { "content-type": "application/grpc", te: "trailers", "grpc-encoding": "gzip", "grpc-accept-encoding": "gzip" },
      envelope(gzipSync(getBytes("big")), 1),
    );
    expect(r.headers["grpc-encoding"]).toBe("gzip");
    expect(r.trailers["grpc-status"]).toBe("0");
    expect(r.body[0]).toBe(1);
    expect(gunzipSync(r.body.subarray(5)).length).toBeGreaterThan(8192);
  });

  it("an unknown compression is UNIMPLEMENTED and names the ones accepted", async () => {
    const r = await h2(
      GET,
      { "content-type": "application/grpc", te: "trailers", "grpc-encoding": "zstd" },
      envelope(getBytes("k")),
    );
    expect(r.trailers["grpc-status"]).toBe(String(Code.Unimplemented));
    expect(r.trailers["grpc-accept-encoding"]).toBe("gzip,br");
  });

  it("malformed messages are INVALID_ARGUMENT in every encoding", async () => {
    const junk = Buffer.from([0x0a, 0xff, 0xff]); // field 1 claims more bytes than follow
    const grpc = await h2(GET, { "content-type": "application/grpc", te: "trailers" }, envelope(junk));
    expect(grpc.trailers["grpc-status"]).toBe(String(Code.InvalidArgument));
    const proto = await h1(GET, { "content-type": "application/proto" }, junk);
    expect([proto.status, JSON.parse(proto.body.toString()).code]).toEqual([400, "invalid_argument"]);
    const json = await h1(GET, { "content-type": "application/json" }, Buffer.from('{"key":'));
    expect([json.status, JSON.parse(json.body.toString()).code]).toEqual([400, "invalid_argument"]);
    const badEnvelope = await h2(
      GET,
      { "content-type": "application/grpc", te: "trailers" },
      Buffer.from([0, 0, 0, 0, 9, 1]),
    );
    expect(badEnvelope.trailers["grpc-status"]).toBe(String(Code.InvalidArgument));
  });

  it("a message over readMaxBytes is RESOURCE_EXHAUSTED, and an HTTP/1.1 connection is closed after it", async () => {
    const big = Buffer.from(JSON.stringify({ key: "x".repeat(LIMIT) }));
    const r = await h1(GET, { "content-type": "application/json" }, big);
    expect([r.status, JSON.parse(r.body.toString()).code]).toEqual([429, "resource_exhausted"]);
    const g = await h2(GET, { "content-type": "application/grpc", te: "trailers" }, envelope(Buffer.alloc(LIMIT + 1)));
    expect(g.trailers["grpc-status"]).toBe(String(Code.ResourceExhausted));
  });

  it("the server ends a call at its grpc-timeout and aborts the handler's signal with DEADLINE_EXCEEDED", async () => {
    seen = {};
    const r = await h2(
      GET,
      { "content-type": "application/grpc", te: "trailers", "grpc-timeout": "150m" },
      envelope(getBytes("wait")),
    );
    expect(r.trailers["grpc-status"]).toBe(String(Code.DeadlineExceeded));
    expect((seen.abort as ConnectError).code).toBe(Code.DeadlineExceeded);
    released = undefined;
  });

  it("a malformed grpc-timeout is INVALID_ARGUMENT", async () => {
    const r = await h2(
      GET,
      { "content-type": "application/grpc", te: "trailers", "grpc-timeout": "soon" },
      envelope(getBytes("k")),
    );
    expect(r.trailers["grpc-status"]).toBe(String(Code.InvalidArgument));
  });

  it("gRPC-Web carries status and metadata in the trailer envelope", async () => {
    const r = await h1(GET, { "content-type": "application/grpc-web+proto" }, envelope(getBytes("missing")));
    expect(r.status).toBe(200);
    expect(r.body[0]).toBe(0x80);
    const text = r.body.subarray(5).toString();
    expect(text).toContain("grpc-status: 5\r\n");
    expect(text).toContain("grpc-message: key not found: missing\r\n");
    expect(text).toContain("x-err: e\r\n");
  });
});

describe("streamed messages with one large bytes field", () => {
  it("are written as tag+length and the bytes, the same bytes toBinary gives", () => {
    const chunk = create(DownloadResponseSchema, { part: { case: "chunk", value: Buffer.alloc(64 * 1024, 3) } });
    const parts = largeBytesParts(DownloadResponseSchema, chunk)!;
    expect(Buffer.concat(parts)).toEqual(Buffer.from(toBinary(DownloadResponseSchema, chunk)));
    expect(parts[1]).toBe((chunk.part as { value: Uint8Array }).value); // not copied
  });

  it("are encoded as usual when the bytes are small or another field is set", () => {
    const small = create(DownloadResponseSchema, { part: { case: "chunk", value: Buffer.alloc(100) } });
    expect(largeBytesParts(DownloadResponseSchema, small)).toBeUndefined();
    const header = create(DownloadResponseSchema, { part: { case: "header", value: { offset: 1n } } });
    expect(largeBytesParts(DownloadResponseSchema, header)).toBeUndefined();
    const two = create(SetRequestSchema, { key: "k", value: Buffer.alloc(64 * 1024) });
    expect(largeBytesParts(SetRequestSchema, two)).toBeUndefined();
  });
});
