/** Queue contract — topics: the default group, bounds, fan-out, per-group acks, streams. */
import { create } from "@bufbuild/protobuf";
import { expect, it } from "vitest";
import * as pb from "../../../gen/mikcar/queue/v1/queue_pb.js";
import { runId } from "../../helpers/backends.js";
import { createQueueService } from "../../../src/services/queue/service.js";
import { ctx, enc, MAX_DELIVERIES, type QueueSuite } from "./suite.js";

export function describeTopics(s: QueueSuite) {
  const { msg, publish, subscribe, ack, manual, wait5, collect, open } = s;
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
        expect(got.length, group).toBeLessThanOrEqual(5 + (s.quirks.topicLengthSlack ?? 0));
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

  it("acks topic deliveries per group", async () => {
    const topic = runId("tack");
    await subscribe(topic, { group: "g" });
    const id = await publish(topic, "{}");
    const [m] = await subscribe(topic, { group: "g", ...manual, timeoutSeconds: 5 });
    expect(m?.id).toBe(id);
    await ack(topic, id, "g");
    await expect(ack(topic, id, "other")).rejects.toThrow(/no delivery/);
  });

  it("streams a topic one message at a time to a slow reader", async () => {
    const topic = runId("stream");
    const ac = new AbortController();
    await subscribe(topic, { group: "s" }); // the group exists before anything is published
    const it = s.q
      .stream(create(pb.StreamRequestSchema, { topic, group: "s" }), ctx("stream", ac.signal))
      [Symbol.asyncIterator]();
    const first = it.next();
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 20; i++) await publish(topic, `{"i":${i}}`);
    expect((await first).value?.message?.payloadJson).toBe('{"i":0}');
    expect((await it.next()).value?.message?.payloadJson).toBe('{"i":1}');
    // The reader has taken two; the rest is still with the s.backend for competing consumers of the group.
    const rest = await collect(topic, "s", 18);
    expect(rest.map((m) => m.payloadJson)).toEqual(Array.from({ length: 18 }, (_, i) => `{"i":${i + 2}}`));
    ac.abort();
    await it.return?.(undefined);
  });
}
