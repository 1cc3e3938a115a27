/** Queue backends by URL scheme, imported lazily so `memory://` never loads ioredis or amqplib. */
import { schemeOf, unsupportedScheme } from "../../shared/url.js";
import type { QueueBackend, QueueBackendOptions } from "./backend.js";

export const QUEUE_SCHEMES = ["memory", "redis", "rediss", "amqp", "amqps"] as const;

export async function openQueueBackend(url: string, opts: QueueBackendOptions): Promise<QueueBackend> {
  switch (schemeOf(url)) {
    case "memory":
      return new (await import("./backends/memory.js")).MemoryQueue(opts);
    case "redis":
    case "rediss":
      return (await import("./backends/redis.js")).RedisQueue.open(url, opts);
    case "amqp":
    case "amqps":
      return (await import("./backends/amqp.js")).AmqpQueue.open(url, opts);
    default:
      throw unsupportedScheme("queue", url, QUEUE_SCHEMES);
  }
}
