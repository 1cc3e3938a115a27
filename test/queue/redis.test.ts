import { Redis } from "ioredis";
import { afterAll, describe } from "vitest";
import { RedisQueue } from "../../src/services/queue/backends/redis.js";
import { backendAvailable, runId } from "../helpers/backends.js";
import { describeQueueContract } from "./contract.js";

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
    dropConnection: (b) => (b as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy(),
  });
});
