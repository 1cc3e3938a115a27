/**
 * Baseline: bare node:http2 (h2c) answering fixed replies in each protocol's shape, the ceiling for any Node
 * HTTP/2 server here. gRPC paths get a 200, a fixed message envelope and `grpc-status: 0` trailers; gRPC-Web and
 * Connect paths the same bytes without trailers; `/stream` sends argv[2] bytes (default 1 MiB) in envelopes of
 * argv[3] bytes (256 KiB), what a Download of that size puts on the wire; `/messages/<n>/<size>` sends n
 * envelopes of that size one write each (a queue Stream's shape). Run as its own process; prints `listening <port>`.
 */
import * as http2 from "node:http2";

const reply = Buffer.from([0, 0, 0, 0, 7, 0x0a, 5, ...Buffer.from("hello")]);
const webReply = Buffer.concat([reply, Buffer.from([0x80, 0, 0, 0, 15]), Buffer.from("grpc-status: 0\r\n")]);
const connectReply = reply.subarray(5);
const CHUNK = Number(process.argv[3] ?? 256 * 1024);
const blob = Buffer.alloc(Number(process.argv[2] ?? 1 << 20), 7);
const frames: Buffer[] = [];
for (let off = 0; off < blob.length; off += CHUNK) {
  const part = blob.subarray(off, off + CHUNK);
  // DownloadResponse{chunk: part}: field 2, length-delimited, varint length
  const len: number[] = [];
  for (let n = part.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  const msg = Buffer.concat([Buffer.from([0x12, ...len]), part]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  frames.push(head, msg);
}

const server = http2.createServer({ maxSessionMemory: 64 });
server.on("stream", (stream, headers) => {
  const path = String(headers[":path"]);
  const type = String(headers["content-type"] ?? "");
  stream.on("data", () => {});
  stream.on("end", () => {
    if (path.startsWith("/messages/")) {
      // MESSAGES envelopes of the given size, written as a queue Stream delivers them: one write each.
      const n = Number(path.split("/")[2]);
      const size = Number(path.split("/")[3]);
      const one = Buffer.alloc(5 + size, 0x61);
      one.fill(0, 0, 5);
      one.writeUInt32BE(size, 1);
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      let i = 0;
      const pump = () => {
        while (i < n) {
          i++;
          if (!stream.write(one)) return void stream.once("drain", pump);
        }
        stream.end();
      };
      pump();
    } else if (path === "/stream") {
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      let i = 0;
      const pump = () => {
        while (i < frames.length) if (!stream.write(frames[i++])) return void stream.once("drain", pump);
        stream.end();
      };
      pump();
    } else if (type.startsWith("application/grpc-web")) {
      stream.respond({ ":status": 200, "content-type": "application/grpc-web+proto" });
      stream.end(webReply);
    } else if (type.startsWith("application/grpc")) {
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(reply);
    } else {
      stream.respond({ ":status": 200, "content-type": type || "application/proto" });
      stream.end(type.includes("json") ? '{"value":"aGVsbG8="}' : connectReply);
    }
  });
});
server.listen(0, "127.0.0.1", () => console.log(`listening ${(server.address() as { port: number }).port}`));
