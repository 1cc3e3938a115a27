/**
 * The REST and gRPC paths on the shared backends, opened by URL the way the CLI does (registry, module options):
 * a smoke set, since the behaviour itself is covered by the contract suite on every backend.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { AckMode, QueueService } from "../../gen/mikcar/queue/v1/queue_pb.js";
import { backendAvailable, runId } from "../helpers/backends.js";
import { startSidecar } from "../helpers/sidecar.js";
import { deleteAmqpNames } from "./amqp-cleanup.js";

const REDIS = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const AMQP = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const redisUp = await backendAvailable("redis", async () => {
  const r = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
  } finally {
    r.disconnect();
  }
});
const amqpUp = await backendAvailable("rabbitmq", async () =>
  (await (await import("amqplib")).connect(AMQP, { timeout: 2_000 })).close(),
);

const prefix = runId("mikcar-test-");
afterAll(async () => {
  if (amqpUp) await deleteAmqpNames(AMQP, prefix);
  if (redisUp) {
    const r = new Redis(REDIS);
    const keys = await r.keys(`${prefix}*`);
    if (keys.length > 0) await r.del(...keys);
    r.disconnect();
  }
});

const cases = [
  { name: "redis", up: redisUp, url: () => `${REDIS}?prefix=${prefix}:` },
  { name: "amqp", up: amqpUp, url: () => `${AMQP}?prefix=${prefix}.` },
];

for (const c of cases) {
  describe.runIf(c.up)(`queue over the wire on ${c.name}`, () => {
    it("serves REST and gRPC on the same queues", async () => {
      const s = await startSidecar({
        services: { queue: c.url() },
        serviceOptions: { queue: { "max-deliveries": "1" } },
      });
      try {
        const rest = (path: string, init?: RequestInit) =>
          fetch(`${s.url}/queue${path}`, init).then((r) => r.json() as Promise<any>);
        const pushed = await rest("/push/w", { method: "POST", body: '{"n":1}' });
        expect(await rest("/len/w")).toEqual({ length: 1, queue: "w" });
        const popped = await rest("/pop/w?timeout=5");
        expect(popped.message).toMatchObject({ id: pushed.message_id, payload: { n: 1 } });

        const client = createClient(QueueService, createGrpcTransport({ baseUrl: s.url }));
        await rest("/subscribe/t?group=g");
        const { messageId } = await client.publish({ topic: "t", payload: new TextEncoder().encode("x") });
        const { messages } = await client.subscribe({
          topic: "t",
          group: "g",
          timeoutSeconds: 5,
          ackMode: AckMode.MANUAL,
        });
        expect(messages.map((m) => m.id)).toEqual([messageId]);
        // --queue-max-deliveries=1: a nacked message goes straight to the topic group's DLQ.
        await client.nack({ name: "t", group: "g", id: messageId });
        expect(await rest("/subscribe/t?group=g&timeout=1")).toMatchObject({ count: 0 });
        expect((await rest("/pop/t.g.dlq?timeout=5")).message.payload).toEqual({ data: "x" });
      } finally {
        await s.close();
      }
    });
  });
}

describe("queue with its broker down", () => {
  for (const scheme of ["redis", "amqp"]) {
    it(`answers 503 UNAVAILABLE on ${scheme} without leaking the URL`, async () => {
      const port = await freePort();
      const s = await startSidecar({ services: { queue: `${scheme}://user:secret@127.0.0.1:${port}` } });
      try {
        const r = await fetch(`${s.url}/queue/push/x`, { method: "POST", body: "1" });
        expect(r.status).toBe(503);
        const text = await r.text();
        expect(JSON.parse(text)).toMatchObject({ code: "UNAVAILABLE", status: 503 });
        expect(text).not.toContain("secret");
      } finally {
        await s.close();
      }
    });
  }
});

async function freePort(): Promise<number> {
  const net = await import("node:net");
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}
