/** The queue service as a sidecar module: `--queue`, `QUEUE_URL`, backends memory / redis / amqp. */
import { QueueService } from "../../../gen/mikcar/queue/v1/queue_pb.js";
import type { Logger } from "../../shared/log.js";
import { queueRoutes } from "./rest.js";
import { serviceInstance, type ServiceInstance, type ServiceModule } from "../module.js";
import type { QueueBackend } from "./backend.js";
import { openQueueBackend, QUEUE_SCHEMES } from "./registry.js";
import { createQueueService } from "./service.js";

export const DEFAULT_MAX_DELIVERIES = 5;
export const DEFAULT_MAX_TOPIC_LENGTH = 100_000;

/** A service instance over a backend you opened yourself (library use and tests). */
export function queueInstance(backend: QueueBackend, opts: { requestTimeoutMs: number; log?: Logger }): ServiceInstance {
  const impl = createQueueService(backend, opts);
  return serviceInstance(QueueService, impl, queueRoutes(impl), backend);
}

function positiveInt(v: string | boolean | undefined, fallback: number, flag: string): number {
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--queue-${flag} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

export const queueModule: ServiceModule = {
  name: "queue",
  summary: "work queues and pub/sub, at-least-once (memory, redis streams, rabbitmq)",
  defaultUrl: "memory://",
  schemes: QUEUE_SCHEMES,
  options: {
    "max-deliveries": {
      type: "string",
      env: "QUEUE_MAX_DELIVERIES",
      description: `deliveries before a message moves to <name>.dlq (default ${DEFAULT_MAX_DELIVERIES})`,
    },
    "max-topic-length": {
      type: "string",
      env: "QUEUE_MAX_TOPIC_LENGTH",
      description: `approximate number of messages a Redis topic stream keeps (default ${DEFAULT_MAX_TOPIC_LENGTH})`,
    },
  },
  async open(url, ctx) {
    const backend = await openQueueBackend(url, {
      maxDeliveries: positiveInt(ctx.options["max-deliveries"], DEFAULT_MAX_DELIVERIES, "max-deliveries"),
      maxTopicLength: positiveInt(ctx.options["max-topic-length"], DEFAULT_MAX_TOPIC_LENGTH, "max-topic-length"),
    });
    return queueInstance(backend, { requestTimeoutMs: ctx.limits.requestTimeoutMs, log: ctx.log });
  },
};
