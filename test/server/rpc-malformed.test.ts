/**
 * Request bodies that are not valid protobuf are the client's fault: INVALID_ARGUMENT with a message over gRPC
 * and gRPC-Web, HTTP 400 over Connect binary — never INTERNAL / 500 (issue 9, item 14). Raw HTTP/2 and
 * HTTP/1.1 requests, so that nothing on the client side validates the bytes first.
 */
import * as http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetRequestSchema } from "../../gen/mikcar/kv/v1/kv_pb.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

let s: RunningSidecar;
let session: http2.ClientHttp2Session;
beforeAll(async () => {
  s = await startSidecar({ services: { kv: "memory://" } });
  session = http2.connect(s.url);
});
afterAll(async () => {
  session.close();
  await s.close();
});

const frame = (payload: Uint8Array, flags = 0) => {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(payload.byteLength, 1);
  return Buffer.concat([head, payload]);
};

interface Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

function h2(path: string, contentType: string, body: Uint8Array): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const st = session.request({ ":method": "POST", ":path": path, "content-type": contentType, te: "trailers" });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    st.on("response", (h) => (headers = h));
    st.on("trailers", (t) => (trailers = t));
    st.on("data", (d: Buffer) => chunks.push(d));
    st.on("end", () => resolve({ status: Number(headers[":status"]), headers, trailers, body: Buffer.concat(chunks) }));
    st.on("error", reject);
    st.end(body);
  });
}

/** gRPC status and message, from the trailers or (trailers-only) the headers. */
const grpcStatus = (a: Answer) => {
  const t = a.trailers["grpc-status"] !== undefined ? a.trailers : a.headers;
  return { code: Number(t["grpc-status"]), message: decodeURIComponent(String(t["grpc-message"] ?? "")) };
};

/** gRPC-Web status and message, from the trailer frame at the end of the body. */
const grpcWebStatus = (a: Answer) => {
  const text = a.body.subarray(a.body.lastIndexOf(0x80) + 5).toString("latin1");
  return {
    code: Number(/grpc-status: *(\d+)/.exec(text)?.[1]),
    message: decodeURIComponent(/grpc-message: *([^\r\n]*)/.exec(text)?.[1] ?? ""),
  };
};

const BAD = Buffer.from([0x08, 0xff, 0xff]); // field 1 as a varint, cut off mid-varint

/** Deterministic pseudo-random bodies (xorshift), 0 to 40 bytes. */
function randomBodies(n: number): Buffer[] {
  let x = 0x9e3779b9;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  return Array.from({ length: n }, () => Buffer.from(Array.from({ length: next() % 41 }, () => next() & 0xff)));
}

const decodes = (b: Uint8Array) => {
  try {
    fromBinary(GetRequestSchema, b);
    return true;
  } catch {
    return false;
  }
};

const GET = "/mikcar.kv.v1.KvService/Get";

describe("malformed protobuf", () => {
  it("gRPC: a cut-off varint is INVALID_ARGUMENT naming the message type", async () => {
    const a = await h2(GET, "application/grpc", frame(BAD));
    expect(grpcStatus(a)).toEqual({
      code: 3,
      message: expect.stringMatching(/^request is not a valid mikcar\.kv\.v1\.GetRequest message: .+/),
    });
  });

  it("Connect binary: a cut-off varint is HTTP 400 invalid_argument with a message", async () => {
    const r = await fetch(`${s.url}${GET}`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: new Uint8Array(BAD),
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({
      code: "invalid_argument",
      message: expect.stringMatching(/^request is not a valid mikcar\.kv\.v1\.GetRequest message: .+/),
    });
  });

  it("gRPC-Web: a cut-off varint is INVALID_ARGUMENT", async () => {
    const a = await h2(GET, "application/grpc-web+proto", frame(BAD));
    expect(grpcWebStatus(a).code).toBe(3);
    expect(grpcWebStatus(a).message).toMatch(/GetRequest message/);
  });

  it("server streaming (Watch over gRPC) is INVALID_ARGUMENT too", async () => {
    const a = await h2("/mikcar.kv.v1.KvService/Watch", "application/grpc", frame(BAD));
    expect(grpcStatus(a)).toMatchObject({ code: 3, message: expect.stringContaining("WatchRequest message") });
  });

  it("300 random bodies over gRPC and Connect binary: never INTERNAL, and INVALID_ARGUMENT whenever they do not decode", async () => {
    const bodies = randomBodies(300);
    const undecodable = bodies.filter((b) => !decodes(b)).length;
    expect(undecodable).toBeGreaterThan(100); // the sample really exercises the parser's error paths
    for (const b of bodies) {
      const g = grpcStatus(await h2(GET, "application/grpc", frame(b)));
      const r = await fetch(`${s.url}${GET}`, {
        method: "POST",
        headers: { "content-type": "application/proto" },
        body: new Uint8Array(b),
      });
      const text = await r.text();
      if (decodes(b)) {
        // A decodable body is a key the service judges: empty, not UTF-8, or simply absent.
        expect([3, 5]).toContain(g.code);
        expect([400, 404]).toContain(r.status);
      } else {
        expect(g, `body ${b.toString("hex")}`).toMatchObject({ code: 3, message: expect.stringMatching(/.+/) });
        expect(r.status, `body ${b.toString("hex")}: ${text}`).toBe(400);
        expect(JSON.parse(text)).toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/.+/) });
      }
    }
  });

  it("a valid call on the same session still works after all that", async () => {
    const ok = await h2(GET, "application/grpc", frame(Buffer.from([0x0a, 0x01, 0x6b])));
    expect(grpcStatus(ok).code).toBe(5); // NOT_FOUND: key "k" is not set
  });
});
