/** Queue over gRPC (h2c on the sidecar's one port), memory backend: the RPCs and Stream's flow control. */
import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AckMode, QueueService, StreamRequestSchema } from "../../gen/mikcar/queue/v1/queue_pb.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

let s: RunningSidecar;
let client: ReturnType<typeof createClient<typeof QueueService>>;
beforeAll(async () => {
  s = await startSidecar({ services: { queue: "memory://" } });
  client = createClient(QueueService, createGrpcTransport({ baseUrl: s.url }));
});
afterAll(() => s.close());

const enc = (x: string) => new TextEncoder().encode(x);

describe("queue gRPC", () => {
  it("pushes, pops, acks and counts", async () => {
    const { messageId } = await client.push({ queue: "g", payload: enc('{"n":9007199254740993}') });
    expect((await client.len({ queue: "g" })).length).toBe(1n);
    const { message } = await client.pop({ queue: "g", ackMode: AckMode.MANUAL, timeoutSeconds: 1 });
    expect(message).toMatchObject({ id: messageId, payloadJson: '{"n":9007199254740993}', deliveryCount: 1 });
    await client.ack({ name: "g", id: messageId });
    await expect(client.ack({ name: "g", id: "missing" })).rejects.toThrow(/no delivery/);
    await expect(client.nack({ name: "g", id: messageId })).rejects.toThrow(/no delivery/);
  });

  it("publishes and subscribes per group", async () => {
    await client.subscribe({ topic: "gt", group: "x" });
    await client.publish({ topic: "gt", payload: enc("hello") });
    const { messages } = await client.subscribe({ topic: "gt", group: "x", timeoutSeconds: 1 });
    expect(messages.map((m) => m.payloadJson)).toEqual(['{"data":"hello"}']);
  });

  it("streams messages as they arrive", async () => {
    await client.subscribe({ topic: "live", group: "s" });
    const ac = new AbortController();
    const stream = client.stream({ topic: "live", group: "s" }, { signal: ac.signal })[Symbol.asyncIterator]();
    const first = stream.next();
    await client.publish({ topic: "live", payload: enc("1") });
    await client.publish({ topic: "live", payload: enc("2") });
    expect((await first).value?.message?.payloadJson).toBe("1");
    expect((await stream.next()).value?.message?.payloadJson).toBe("2");
    ac.abort();
  });

  it("holds back a slow reader instead of draining the group into the transport", async () => {
    await client.subscribe({ topic: "big", group: "s" });
    // Large messages fill the HTTP/2 flow-control window after a few, so read-ahead would show up as a drained
    // group. The reader is a bare HTTP/2 stream that never reads (connect's client buffers whatever arrives).
    const payload = enc(JSON.stringify({ pad: "x".repeat(256 * 1024) }));
    for (let i = 0; i < 30; i++) await client.publish({ topic: "big", payload });
    const session = http2.connect(s.url);
    const req = session.request({
      ":method": "POST",
      ":path": "/mikcar.queue.v1.QueueService/Stream",
      "content-type": "application/grpc",
      te: "trailers",
    });
    const body = toBinary(StreamRequestSchema, create(StreamRequestSchema, { topic: "big", group: "s" }));
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    req.end(frame);
    req.pause();
    const firstBytes = new Promise((resolve) => req.once("readable", resolve));
    await firstBytes;
    await new Promise((r) => setTimeout(r, 300)); // give the server every chance to run ahead
    let left = 0;
    for (;;) {
      const { messages } = await client.subscribe({ topic: "big", group: "s", maxMessages: 100 });
      if (messages.length === 0) break;
      left += messages.length;
    }
    expect(left).toBeGreaterThan(20); // only what fits the transport's window and buffers was taken
    req.close(http2.constants.NGHTTP2_CANCEL);
    session.close();
  });
});
