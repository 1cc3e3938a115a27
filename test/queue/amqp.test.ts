import { afterAll, describe, expect, it } from "vitest";
import { AmqpQueue } from "../../src/services/queue/backends/amqp.js";
import { backendAvailable, runId } from "../helpers/backends.js";
import { deleteAmqpNames } from "./amqp-cleanup.js";
import { describeQueueContract } from "./contract/index.js";

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
    // x-max-length counts the queue's ready messages; a group with a consumer also has up to 100 (the prefetch)
    // in this sidecar's buffer.
    topicLengthSlack: 100,
    dropConnection: (b) =>
      (
        b as unknown as { link: { conn: { connection: { stream: { destroy(err?: Error): void } } } } }
      ).link.conn.connection.stream.destroy(new Error("dropped by the test")),
  });

  it("uses a group queue an older sidecar declared without a length bound as it is", async () => {
    const p = `${prefix}-legacy.`;
    const amqp = await import("amqplib");
    const conn = await amqp.connect(URL);
    const opts = { maxDeliveries: 5, maxTopicLength: 10 };
    const q = await AmqpQueue.open(`${URL}?prefix=${p}`, opts);
    try {
      const ch = await conn.createChannel();
      // The names the backend uses, declared as before the bound existed: no x-max-length.
      await ch.assertExchange(`${p}x|old`, "fanout", { durable: true });
      for (const group of ["default", "g"]) {
        await ch.assertQueue(`${p}t|old|${group}`, { durable: true });
        await ch.bindQueue(`${p}t|old|${group}`, `${p}x|old`, "");
      }
      await ch.close();
      const t = (group: string) => ({ kind: "topic", name: "old", group }) as const;
      await q.receive(t("g"), 1, 1_000);
      const id = await q.publish("old", "1");
      for (const group of ["default", "g"]) {
        let got: Awaited<ReturnType<AmqpQueue["receive"]>> = [];
        for (let i = 0; i < 50 && got.length === 0; i++) {
          const since = q.version(t(group));
          got = await q.receive(t(group), 1, 5_000);
          if (got.length === 0) await q.wait(t(group), since, 200, new AbortController().signal);
        }
        expect(
          got.map((d) => d.id),
          group,
        ).toEqual([id]);
        expect(await q.ack(t(group), id)).toBe("acked");
      }
    } finally {
      await q.close();
      await conn.close();
    }
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

  it("gives an expired delivery that nobody took again back to the broker with the idle buffer", async () => {
    const url = `${URL}?prefix=${prefix}-expired.`;
    const opts = { maxDeliveries: 5, maxTopicLength: 10 };
    const [a, b] = await Promise.all([AmqpQueue.open(url, opts), AmqpQueue.open(url, opts)]);
    const t = { kind: "queue", name: "shared" } as const;
    try {
      const id = await a.push("shared", "1");
      let taken: Awaited<ReturnType<AmqpQueue["receive"]>> = [];
      for (let i = 0; i < 50 && taken.length === 0; i++) {
        const since = a.version(t);
        taken = await a.receive(t, 1, 500); // expires here and waits in a's buffer, unacked
        if (taken.length === 0) await a.wait(t, since, 200, new AbortController().signal);
      }
      expect(taken.map((d) => d.id)).toEqual([id]);
      let got: Awaited<ReturnType<AmqpQueue["receive"]>> = [];
      const until = Date.now() + 15_000;
      while (got.length === 0 && Date.now() < until) {
        const since = b.version(t);
        got = await b.receive(t, 10, 1_000);
        if (got.length === 0) await b.wait(t, since, 500, new AbortController().signal);
      }
      // Counted by b from the broker's "redelivered" flag: at least the one delivery a made.
      expect(got).toEqual([{ id, payload: "1", deliveryCount: 2 }]);
      expect(await a.ack(t, id)).toBe("unknown"); // a's window closed when it gave the message back
      expect(await b.ack(t, id)).toBe("acked");
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
