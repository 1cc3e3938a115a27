/**
 * The queue contract: one behaviour suite run against every backend (memory, Redis Streams, RabbitMQ) through
 * the one service implementation, so long-polls, ack modes and dead-lettering are checked on each.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pb from "../../gen/mikcar/queue/v1/queue_pb.js";
import type { QueueBackend, QueueBackendOptions } from "../../src/services/queue/backend.js";
import { createQueueService, responseWritten } from "../../src/services/queue/service.js";
import { runId } from "../helpers/backends.js";

export interface QueueQuirks {
  /** Cuts the backend's connection to its broker the hard way (socket destroyed), to test recovery. */
  dropConnection?(backend: QueueBackend): void;
  /** How far past `maxTopicLength` a topic group may hold, and why (Redis trims whole stream nodes). */
  topicLengthSlack?: number;
}

export const MAX_DELIVERIES = 3;

const enc = (s: string) => new TextEncoder().encode(s);

function ctx(method: keyof typeof pb.QueueService.method, signal = new AbortController().signal): HandlerContext {
  return createHandlerContext({
    service: pb.QueueService,
    method: pb.QueueService.method[method],
    protocolName: "test",
    requestMethod: "POST",
    url: "/",
    requestSignal: signal,
  });
}

/** Retries `fn` while the backend reports UNAVAILABLE (e.g. reconnecting after a dropped connection). */
async function retry<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i > 100 || !/unavailable/i.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export function describeQueueContract(
  name: string,
  open: (opts: QueueBackendOptions) => Promise<QueueBackend>,
  quirks: QueueQuirks = {},
) {
  describe(`queue contract: ${name}`, () => {
    let backend: QueueBackend;
    let q: ReturnType<typeof createQueueService>;
    beforeAll(async () => {
      backend = await open({ maxDeliveries: MAX_DELIVERIES, maxTopicLength: 10_000 });
      q = createQueueService(backend, { requestTimeoutMs: 30_000 });
    });
    afterAll(() => backend?.close());

    const push = async (queue: string, body: string) =>
      (await q.push(create(pb.PushRequestSchema, { queue, payload: enc(body) }), ctx("push"))).messageId!;
    const msg = (m: MessageInitShape<typeof pb.MessageSchema>) => create(pb.MessageSchema, m);
    const pop = async (queue: string, o: MessageInitShape<typeof pb.PopRequestSchema> = {}, signal?: AbortSignal) => {
      const m = (await q.pop(create(pb.PopRequestSchema, { queue, ...o }), ctx("pop", signal))).message;
      return m && msg(m);
    };
    const publish = async (topic: string, body: string) =>
      (await q.publish(create(pb.PublishRequestSchema, { topic, payload: enc(body) }), ctx("publish"))).messageId!;
    const subscribe = async (topic: string, o: MessageInitShape<typeof pb.SubscribeRequestSchema> = {}) =>
      (await q.subscribe(create(pb.SubscribeRequestSchema, { topic, ...o }), ctx("subscribe"))).messages?.map(msg) ??
      [];
    const ack = async (name: string, id: string, group = "") =>
      q.ack(create(pb.AckRequestSchema, { name, id, group }), ctx("ack"));
    const nack = async (name: string, id: string, deadLetter = false) =>
      q.nack(create(pb.NackRequestSchema, { name, id, deadLetter }), ctx("nack"));
    const len = async (queue: string) => (await q.len(create(pb.LenRequestSchema, { queue }), ctx("len"))).length;
    // Brokers deliver asynchronously (RabbitMQ pushes to a consumer), so calls that expect a message may wait.
    const manual = { ackMode: pb.AckMode.MANUAL, visibilitySeconds: 1, timeoutSeconds: 5 };
    const wait5 = { timeoutSeconds: 5 };
    /** Subscribes until `n` messages came (or a wait comes back empty), checking each batch's bound. */
    const collect = async (topic: string, group: string, n: number, maxMessages = 100) => {
      const all: pb.Message[] = [];
      while (all.length < n) {
        const batch = await subscribe(topic, { group, maxMessages, timeoutSeconds: 5 });
        expect(batch.length).toBeLessThanOrEqual(maxMessages);
        if (batch.length === 0) break;
        all.push(...batch);
      }
      return all;
    };

    it("keeps FIFO order, stable ids and the payload rule", async () => {
      const name = runId("fifo");
      const ids = [
        await push(name, '{"n": 12345678901234567890}'),
        await push(name, "plain text"),
        await push(name, "[1,2]"),
      ];
      expect(await len(name)).toBe(3n);
      const got = [await pop(name, wait5), await pop(name, wait5), await pop(name, wait5)];
      expect(got.map((m) => m?.id)).toEqual(ids);
      expect(got.map((m) => m?.payloadJson)).toEqual(['{"n": 12345678901234567890}', '{"data":"plain text"}', "[1,2]"]);
      expect(got[0]!.deliveryCount).toBe(1);
      expect(await pop(name)).toBeUndefined();
      expect(await len(name)).toBe(0n);
    });

    it("gives each message to exactly one of several competing consumers", async () => {
      const name = runId("compete");
      const ids = new Set<string>();
      for (let i = 0; i < 20; i++) ids.add(await push(name, `{"i":${i}}`));
      const seen: string[] = [];
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let m = await pop(name, { timeoutSeconds: 1 }); m; m = await pop(name, { timeoutSeconds: 1 }))
            seen.push(m.id);
        }),
      );
      expect(seen.length).toBe(20);
      expect(new Set(seen)).toEqual(ids);
    });

    it("keeps what is published before the first subscribe for the default group; a named group starts at its first subscribe", async () => {
      const topic = runId("early");
      const id = await publish(topic, '{"early":1}');
      // mikcar's own pub/sub test: publish, then subscribe with timeout=1&max_messages=1.
      expect((await subscribe(topic, { timeoutSeconds: 1, maxMessages: 1 })).map((m) => m.id)).toEqual([id]);
      expect(await subscribe(topic, { group: "named", timeoutSeconds: 1 })).toEqual([]);
      const next = await publish(topic, '{"next":2}');
      expect((await subscribe(topic, { group: "named", ...wait5 })).map((m) => m.id)).toEqual([next]);
      expect((await subscribe(topic, wait5)).map((m) => m.id)).toEqual([next]);
    });

    it("bounds what a topic group holds to max-topic-length, dropping the oldest", async () => {
      const bounded = await open({ maxDeliveries: MAX_DELIVERIES, maxTopicLength: 5 });
      const q2 = createQueueService(bounded, { requestTimeoutMs: 30_000 });
      try {
        const topic = runId("bound");
        const take = async (group: string) => {
          const all: pb.Message[] = [];
          for (;;) {
            const req = create(pb.SubscribeRequestSchema, { topic, group, maxMessages: 1000, timeoutSeconds: 2 });
            const batch = (await q2.subscribe(req, ctx("subscribe"))).messages ?? [];
            if (batch.length === 0) return all;
            all.push(...batch.map(msg));
          }
        };
        await take("named"); // the named group exists from here; the default one from the first publish
        const ids: string[] = [];
        for (let i = 0; i < 150; i++) {
          const req = create(pb.PublishRequestSchema, { topic, payload: enc(`{"i":${i}}`) });
          ids.push((await q2.publish(req, ctx("publish"))).messageId!);
        }
        for (const group of ["default", "named"]) {
          const got = (await take(group)).map((m) => m.id);
          expect(got.length, group).toBeGreaterThanOrEqual(5);
          expect(got.length, group).toBeLessThanOrEqual(5 + (quirks.topicLengthSlack ?? 0));
          expect(
            got.filter((id) => !ids.includes(id)),
            group,
          ).toEqual([]);
          // In publish order, and the newest always kept (what the slack lets through may be older).
          expect(
            got.map((id) => ids.indexOf(id)),
            group,
          ).toEqual(got.map((id) => ids.indexOf(id)).sort((a, b) => a - b));
          expect(got.slice(-5), group).toEqual(ids.slice(-5));
        }
      } finally {
        await bounded.close();
      }
    });

    it("fans a topic out to every group, competing consumers inside a group", async () => {
      const topic = runId("fan");
      expect(await subscribe(topic, { group: "a" })).toEqual([]);
      expect(await subscribe(topic, { group: "b" })).toEqual([]);
      const ids = [await publish(topic, "1"), await publish(topic, "2"), await publish(topic, "3")];
      expect((await collect(topic, "a", 3, 2)).map((m) => m.id)).toEqual(ids);
      expect((await collect(topic, "b", 3)).map((m) => m.payloadJson)).toEqual(["1", "2", "3"]);
      // A group made later only sees later messages.
      expect(await subscribe(topic, { group: "late" })).toEqual([]);
    });

    it("redelivers an unacked manual delivery after its visibility timeout; ack is final and idempotent", async () => {
      const name = runId("vis");
      const id = await push(name, "x");
      const first = await pop(name, manual);
      expect(first?.id).toBe(id);
      expect(await pop(name)).toBeUndefined(); // invisible while in flight
      const again = await pop(name, { ...manual, timeoutSeconds: 10 });
      expect(again?.id).toBe(id);
      expect(again?.deliveryCount).toBe(2);
      await ack(name, id);
      await ack(name, id); // already acked: still fine (mikcar handlers ack after an auto pop)
      await expect(ack(name, "0-1")).rejects.toThrow(/no delivery/);
      await new Promise((r) => setTimeout(r, 1_200));
      expect(await pop(name)).toBeUndefined();
    });

    it("accepts a late ack until the message is taken again; an expired message comes back ahead of newer ones", async () => {
      const name = runId("late");
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const late = await push(name, "late");
      expect((await pop(name, manual))?.id).toBe(late);
      await sleep(1_500); // past the 1 s visibility, and nobody has popped since
      await ack(name, late); // 200, not 404: the delivery was still open
      expect(await pop(name)).toBeUndefined(); // and it is not delivered again
      expect(await len(name)).toBe(0n);

      const a = await push(name, "a");
      expect((await pop(name, manual))?.id).toBe(a);
      const b = await push(name, "b");
      await sleep(1_500);
      const again = await pop(name, manual);
      expect(again?.id).toBe(a); // FIFO per queue holds across the redelivery
      expect(again?.deliveryCount).toBe(2);
      expect((await pop(name, manual))?.id).toBe(b);
      await ack(name, a);
      await ack(name, b);
    });

    it("puts a nacked message back ahead of newer ones", async () => {
      const name = runId("nackorder");
      const a = await push(name, "a");
      const b = await push(name, "b");
      expect((await pop(name, manual))?.id).toBe(a);
      await nack(name, a);
      const again = await pop(name, manual);
      expect(again?.id).toBe(a);
      expect(again?.deliveryCount).toBe(2);
      expect((await pop(name, manual))?.id).toBe(b);
      await ack(name, a);
      await ack(name, b);
    });

    it("acks topic deliveries per group", async () => {
      const topic = runId("tack");
      await subscribe(topic, { group: "g" });
      const id = await publish(topic, "{}");
      const [m] = await subscribe(topic, { group: "g", ...manual, timeoutSeconds: 5 });
      expect(m?.id).toBe(id);
      await ack(topic, id, "g");
      await expect(ack(topic, id, "other")).rejects.toThrow(/no delivery/);
    });

    it("dead-letters after the delivery limit and on request; the DLQ pops like any queue", async () => {
      const name = runId("dlq");
      await push(name, '{"poison":true}');
      for (let i = 1; i <= MAX_DELIVERIES; i++) {
        const m = await pop(name, { ...manual, timeoutSeconds: 5 });
        expect(m?.deliveryCount).toBe(i);
        await nack(name, m!.id);
      }
      expect(await pop(name)).toBeUndefined();
      const dead = await pop(`${name}.dlq`, wait5);
      expect(dead?.payloadJson).toBe('{"poison":true}');

      await push(name, "now");
      const m = await pop(name, manual);
      await nack(name, m!.id, true);
      expect((await pop(`${name}.dlq`, { timeoutSeconds: 5 }))?.payloadJson).toBe('{"data":"now"}');
      await expect(nack(name, m!.id)).rejects.toThrow(/no delivery/);
    });

    it("wakes a long-poll as soon as a message arrives", async () => {
      const name = runId("wake");
      const t0 = Date.now();
      const waiting = pop(name, { timeoutSeconds: 20 });
      setTimeout(() => void push(name, "hi"), 100);
      expect((await waiting)?.payloadJson).toBe('{"data":"hi"}');
      expect(Date.now() - t0).toBeLessThan(10_000); // far below the 20 s timeout, not a latency measurement
    });

    it("never loses a message because the caller went away", async () => {
      const name = runId("gone");
      const ac = new AbortController();
      const waiting = pop(name, { timeoutSeconds: 20 }, ac.signal);
      await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      expect(await waiting).toBeUndefined();
      const id = await push(name, "kept");
      // Auto-ack whose response was never written: released at once, not counted as a delivery.
      const c = ctx("pop");
      c.values.set(responseWritten, Promise.resolve(false));
      const res = await q.pop(create(pb.PopRequestSchema, { queue: name, timeoutSeconds: 5 }), c);
      expect(res.message?.id).toBe(id);
      const again = await pop(name, { timeoutSeconds: 5 });
      expect(again?.id).toBe(id);
      expect(again?.deliveryCount).toBe(1);
    });

    it("gives back at once a message taken for a caller that left during the take", async () => {
      const name = runId("race");
      const id = await push(name, "r");
      const ac = new AbortController();
      // The caller goes away exactly while the backend hands the message over.
      const racing = new Proxy(backend, {
        get(target, prop) {
          if (prop === "receive") {
            return async (...args: Parameters<QueueBackend["receive"]>) => {
              const got = await target.receive(...args);
              if (got.length > 0) ac.abort();
              return got;
            };
          }
          const v = Reflect.get(target, prop, target);
          return typeof v === "function" ? v.bind(target) : v;
        },
      });
      const q2 = createQueueService(racing, { requestTimeoutMs: 30_000 });
      const res = await q2.pop(create(pb.PopRequestSchema, { queue: name, timeoutSeconds: 5 }), ctx("pop", ac.signal));
      expect(res.message).toBeUndefined();
      const again = await pop(name, wait5);
      expect(again?.id).toBe(id);
      expect(again?.deliveryCount).toBe(1);
    });

    it("streams a topic one message at a time to a slow reader", async () => {
      const topic = runId("stream");
      const ac = new AbortController();
      await subscribe(topic, { group: "s" }); // the group exists before anything is published
      const it = q
        .stream(create(pb.StreamRequestSchema, { topic, group: "s" }), ctx("stream", ac.signal))
        [Symbol.asyncIterator]();
      const first = it.next();
      await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 20; i++) await publish(topic, `{"i":${i}}`);
      expect((await first).value?.message?.payloadJson).toBe('{"i":0}');
      expect((await it.next()).value?.message?.payloadJson).toBe('{"i":1}');
      // The reader has taken two; the rest is still with the backend for competing consumers of the group.
      const rest = await collect(topic, "s", 18);
      expect(rest.map((m) => m.payloadJson)).toEqual(Array.from({ length: 18 }, (_, i) => `{"i":${i + 2}}`));
      ac.abort();
      await it.return?.(undefined);
    });

    it.runIf(quirks.dropConnection)("loses no message when the broker connection drops mid-run", async () => {
      const name = runId("drop");
      const pushed = new Set<string>();
      for (let i = 0; i < 10; i++) pushed.add(await push(name, `{"i":${i}}`));
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const m = await pop(name, manual);
        await ack(name, m!.id);
        seen.add(m!.id);
      }
      await pop(name, manual); // in flight when the connection dies, and not counted: it must come back
      quirks.dropConnection!(backend);
      // Drain until nothing is delivered for longer than the visibility timeout. An ack made on the dead
      // connection may be lost; its message then comes again (at-least-once), which the loop absorbs.
      for (;;) {
        const m = await retry(() => pop(name, { ...manual, timeoutSeconds: 3 }));
        if (!m) break;
        seen.add(m.id);
        await retry(() => ack(name, m.id)).catch(() => {});
      }
      expect(seen).toEqual(pushed);
      expect(await retry(() => len(name))).toBe(0n);
    });

    it("refuses bad names with a message naming the field", async () => {
      await expect(push("", "x")).rejects.toThrow(/queue must not be empty/);
      await expect(subscribe("t", { group: "a b" })).rejects.toThrow(/group must not contain/);
      await expect(subscribe("t", { maxMessages: 5000 })).rejects.toThrow(/max_messages/);
    });
  });
}
