import { afterAll, describe, expect, it } from "vitest";
import { AmqpQueue } from "../../src/services/queue/backends/amqp.js";
import { backendAvailable, runId } from "../helpers/backends.js";
import { deleteAmqpNames } from "./amqp-cleanup.js";
import { describeQueueContract } from "./contract.js";

const URL = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const up = await backendAvailable("rabbitmq", async () => {
  const amqp = await import("amqplib");
  const conn = await amqp.connect(URL, { timeout: 2_000 });
  await conn.close();
});

const prefix = runId("mikcar-test-");

describe.runIf(up)("rabbitmq", () => {
  afterAll(() => deleteAmqpNames(URL, prefix));

  describeQueueContract("amqp", (opts) => AmqpQueue.open(`${URL}?prefix=${prefix}.`, opts), {
    // Destroys the socket under amqplib's connection; the backend reconnects on the next call.
    dropConnection: (b) =>
      (b as unknown as { link: { conn: { connection: { stream: { destroy(err?: Error): void } } } } }).link.conn.connection.stream.destroy(
        new Error("dropped by the test"),
      ),
  });

  it("gives buffered messages back when its consumer goes idle, so other sidecars get them", async () => {
    const url = `${URL}?prefix=${prefix}-idle.`;
    const opts = { maxDeliveries: 5, maxTopicLength: 10 };
    const [a, b] = await Promise.all([AmqpQueue.open(url, opts), AmqpQueue.open(url, opts)]);
    const t = { kind: "queue", name: "shared" } as const;
    try {
      const ids = new Set([await a.push("shared", "1"), await a.push("shared", "2")]);
      await a.receive(t, 0, 1_000); // starts a's consumer, which prefetches both and then sits idle
      const got = new Set<string>();
      const until = Date.now() + 10_000;
      while (got.size < 2 && Date.now() < until) {
        const since = b.version(t);
        for (const d of await b.receive(t, 10, 1_000)) got.add(d.id);
        await b.wait(t, since, 500, new AbortController().signal);
      }
      expect(got).toEqual(ids);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
