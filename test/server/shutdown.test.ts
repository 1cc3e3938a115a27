/**
 * SIGTERM with long-polls and streams open (issue 9, item 11), on the real CLI process: long-polls answer at once
 * with an empty result and `Connection: close`, Watch and Stream end with a clean status, an ordinary request in
 * flight still finishes, and the process exits as soon as that is done — long before its grace period.
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { expect, it } from "vitest";
import { WatchRequestSchema } from "../../gen/mikcar/kv/v1/kv_pb.js";
import { StreamRequestSchema } from "../../gen/mikcar/queue/v1/queue_pb.js";
import { startCli } from "../helpers/process.js";

const GRACE_S = 60;

/** An HTTP/1.1 exchange on a raw socket: everything the server sends until it closes. */
function h1(host: string, port: number, request: string): { sock: net.Socket; reply: Promise<string> } {
  const sock = net.connect(port, host, () => sock.write(request));
  const reply = new Promise<string>((resolve) => {
    let data = "";
    sock.on("data", (d) => (data += d));
    sock.on("error", () => {});
    sock.on("close", () => resolve(data));
  });
  return { sock, reply };
}

const frame = (p: Uint8Array) => {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(p.byteLength, 1);
  return Buffer.concat([head, p]);
};

/** A gRPC server stream over raw HTTP/2; resolves with its final grpc-status once it ends. */
function grpcStream(session: http2.ClientHttp2Session, path: string, body: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const st = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
    });
    let status = "none";
    st.on("response", (h) => h["grpc-status"] !== undefined && (status = String(h["grpc-status"])));
    st.on("trailers", (t) => (status = String(t["grpc-status"])));
    st.on("error", (e: NodeJS.ErrnoException) => (status = `error ${e.code}`));
    st.on("close", () => resolve(status));
    st.resume();
    st.end(body);
  });
}

it("at SIGTERM long-polls answer empty at once, streams end OK, in-flight requests finish, then exit", async () => {
  const p = await startCli([
    "--kv",
    "--kv-url",
    "memory://",
    "--queue",
    "--queue-url",
    "memory://",
    "--shutdown-grace",
    `${GRACE_S}s`,
  ]);
  const [host, port] = [p.address.split(":")[0]!, Number(p.address.split(":")[1])];
  const events: string[] = [];
  const note = <T>(name: string, x: Promise<T>) =>
    x.then((v) => {
      events.push(name);
      return v;
    });

  const pop = h1(host, port, "GET /queue/pop/jobs?timeout=25 HTTP/1.1\r\nHost: x\r\n\r\n");
  const sub = h1(host, port, "GET /queue/subscribe/news?timeout=25 HTTP/1.1\r\nHost: x\r\n\r\n");
  const session = http2.connect(`http://${p.address}`);
  session.on("error", () => {});
  const watch = grpcStream(
    session,
    "/mikcar.kv.v1.KvService/Watch",
    frame(toBinary(WatchRequestSchema, create(WatchRequestSchema, { prefix: "" }))),
  );
  const stream = grpcStream(
    session,
    "/mikcar.queue.v1.QueueService/Stream",
    frame(toBinary(StreamRequestSchema, create(StreamRequestSchema, { topic: "news", group: "g" }))),
  );
  // An ordinary request, half sent when the signal arrives.
  const slow = h1(host, port, "POST /kv/set/late HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
  await new Promise((r) => setTimeout(r, 500)); // every call has reached its handler

  const t0 = Date.now();
  p.child.kill("SIGTERM");
  const [popReply, subReply, watchStatus, streamStatus] = await Promise.all([
    note("pop", pop.reply),
    note("subscribe", sub.reply),
    note("watch", watch),
    note("stream", stream),
  ]);
  expect(popReply).toMatch(/^HTTP\/1\.1 200 /);
  expect(popReply).toMatch(/\r\nconnection: close\r\n/i);
  expect(popReply).toContain('{"message":null,"queue":"jobs"}');
  expect(subReply).toMatch(/^HTTP\/1\.1 200 /);
  expect(subReply).toMatch(/\r\nconnection: close\r\n/i);
  expect(subReply).toMatch(/"count":0/);
  expect(watchStatus).toBe("0");
  expect(streamStatus).toBe("0");

  // The ordinary request is still being served: finish it, and it succeeds.
  slow.sock.write("56789");
  const slowReply = await note("slow", slow.reply);
  expect(slowReply).toMatch(/^HTTP\/1\.1 200 /);
  expect(await note("exit", p.exited)).toBe(0);
  const exitAfterMs = Date.now() - t0;
  session.destroy();

  expect(events.slice(-2)).toEqual(["slow", "exit"]);
  // Nothing waited for the long-polls' 25 s or the 60 s grace.
  expect(exitAfterMs).toBeLessThan((GRACE_S * 1000) / 3);
  expect(p.stderr()).toContain('"event":"shutdown.done"');
}, 90_000);
