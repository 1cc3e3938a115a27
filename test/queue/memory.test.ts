import { describe, expect, it } from "vitest";
import { MemoryQueue } from "../../src/services/queue/backends/memory.js";
import { describeQueueContract } from "./contract/index.js";

describeQueueContract("memory", async (opts) => new MemoryQueue(opts));

describe("memory queue clock", () => {
  it("redelivers when the injected clock passes the visibility deadline, without sleeping", async () => {
    let now = 1_000;
    const q = new MemoryQueue({ maxDeliveries: 5, maxTopicLength: 10 }, () => now);
    const t = { kind: "queue", name: "c" } as const;
    const id = await q.push("c", "1");
    expect((await q.receive(t, 1, 30_000)).map((d) => d.id)).toEqual([id]);
    now += 29_999;
    expect(await q.receive(t, 1, 30_000)).toEqual([]);
    now += 1;
    expect(await q.receive(t, 1, 30_000)).toEqual([{ id, payload: "1", deliveryCount: 2 }]);
  });
});
