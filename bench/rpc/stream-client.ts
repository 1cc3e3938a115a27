/**
 * Reads one gRPC server stream over raw node:http2 until `count` messages have arrived (or it ends) and reports
 * messages and bytes per second: the client side of the queue Stream row. Parsing only counts envelopes, so the
 * client costs little next to the server.
 */
import * as http2 from "node:http2";

export interface StreamRead {
  messages: number;
  bytes: number;
  seconds: number;
}

export function readGrpcStream(base: string, path: string, request: Uint8Array, count: number): Promise<StreamRead> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(base);
    session.on("error", reject);
    const body = Buffer.alloc(5 + request.length);
    body.writeUInt32BE(request.length, 1);
    body.set(request, 5);
    const started = performance.now();
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
    });
    let pending: Buffer = Buffer.alloc(0);
    let messages = 0;
    let bytes = 0;
    const done = () => {
      const seconds = (performance.now() - started) / 1000;
      req.close();
      session.close();
      resolve({ messages, bytes, seconds });
    };
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 5) {
        const len = pending.readUInt32BE(1);
        if (pending.length < 5 + len) break;
        pending = pending.subarray(5 + len);
        if (++messages === count) return done();
      }
    });
    req.on("end", done);
    req.on("error", reject);
    req.end(body);
  });
}
