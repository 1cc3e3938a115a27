import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisQueue } from "../../src/services/queue/backends/redis.js";
import { backendAvailable, runId } from "../helpers/backends.js";
import { describeQueueContract } from "./contract/index.js";

const URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = runId("mikcar-test-") + ":";
const up = await backendAvailable("redis", async () => {
  const r = new Redis(URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
    await r.ping();
  } finally {
    r.disconnect();
  }
});

describe.runIf(up)("redis", () => {
  afterAll(async () => {
    const r = new Redis(URL);
    const keys = await r.keys(`${prefix}*`);
    if (keys.length > 0) await r.del(...keys);
    r.disconnect();
  });

  describeQueueContract("redis", (opts) => RedisQueue.open(`${URL}?prefix=${prefix}`, opts), {
    // The socket under ioredis is destroyed; ioredis reconnects on its own.
    // MAXLEN ~ trims whole stream nodes (stream-node-max-entries, 100 by default).
    topicLengthSlack: 100,
    dropConnection: (b) => (b as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy(),
  });

  it("trims topic streams to about the configured length", async () => {
    const q = await RedisQueue.open(`${URL}?prefix=${prefix}trim:`, { maxDeliveries: 5, maxTopicLength: 10 });
    const r = new Redis(URL);
    try {
      await q.receive({ kind: "topic", name: "t", group: "g" }, 1, 1_000);
      for (let i = 0; i < 500; i++) await q.publish("t", String(i));
      // MAXLEN ~ trims whole stream nodes (100 entries by default), so the length is bounded, not exact.
      expect(await r.xlen(`${prefix}trim:mq:t:t`)).toBeLessThanOrEqual(110);
      // The group still reads on from where it was, past what was trimmed.
      const got = await q.receive({ kind: "topic", name: "t", group: "g" }, 1, 1_000);
      expect(got.length).toBe(1);
    } finally {
      r.disconnect();
      await q.close();
    }
  });
});
