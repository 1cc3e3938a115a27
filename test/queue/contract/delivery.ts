/** Queue contract — work queues: FIFO, competing consumers, long-polls, callers that leave, names. */
import { create } from "@bufbuild/protobuf";
import { expect, it } from "vitest";
import * as pb from "../../../gen/mikcar/queue/v1/queue_pb.js";
import { responseWritten } from "../../../src/services/queue/service.js";
import { runId } from "../../helpers/backends.js";
import { createQueueService } from "../../../src/services/queue/service.js";
import type { QueueBackend } from "../../../src/services/queue/backend.js";
import { ctx, type QueueSuite } from "./suite.js";

export function describeDelivery(s: QueueSuite) {
  const { push, pop, subscribe, len, wait5 } = s;
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
    const res = await s.q.pop(create(pb.PopRequestSchema, { queue: name, timeoutSeconds: 5 }), c);
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
    const racing = new Proxy(s.backend, {
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

  it("refuses bad names with a message naming the field", async () => {
    await expect(push("", "x")).rejects.toThrow(/queue must not be empty/);
    await expect(subscribe("t", { group: "a b" })).rejects.toThrow(/group must not contain/);
    await expect(subscribe("t", { maxMessages: 5000 })).rejects.toThrow(/max_messages/);
  });
}
