/** The queue service as a sidecar module: `--queue`, `QUEUE_URL`, backends memory / redis / amqp. */
import { QueueService } from "../../../gen/mikcar/queue/v1/queue_pb.js";
import { type ServiceInstance, type ServiceModule, serviceInstance } from "../module.js";
import { withPolicyOf } from "../../shared/instrument.js";
import type { QueueBackend } from "./backend.js";
import { QUEUE_CALLS } from "./calls.js";
import { countDeliveries } from "./deliveries.js";
import { openQueueBackend, QUEUE_SCHEMES } from "./registry.js";
import { queueRoutes } from "./rest.js";
import { createQueueService, type QueueServiceOptions } from "./service.js";
import { queueResources } from "./resources.js";

export const DEFAULT_MAX_DELIVERIES = 5;
export const DEFAULT_MAX_TOPIC_LENGTH = 100_000;

/** A queue service instance over a backend you opened yourself (library use and tests). */
export function queueInstance(backend: QueueBackend, opts: QueueServiceOptions): ServiceInstance<typeof QueueService> {
  return {
    ...serviceInstance(QueueService, createQueueService(backend, opts), queueRoutes, backend),
    resources: queueResources,
  };
}

export const queueModule: ServiceModule = {
  name: "queue",
  summary: "work queues and pub/sub, at-least-once (memory, redis streams, rabbitmq)",
  defaultUrl: "memory://",
  schemes: QUEUE_SCHEMES,
  options: {
    "max-deliveries": {
      type: "integer",
      min: 1,
      max: 1_000_000,
      env: "QUEUE_MAX_DELIVERIES",
      description: "deliveries before a message moves to <name>.dlq",
      default: DEFAULT_MAX_DELIVERIES,
    },
    "max-topic-length": {
      type: "integer",
      min: 1,
      max: 1_000_000_000,
      env: "QUEUE_MAX_TOPIC_LENGTH",
      description: "messages a topic group keeps waiting for delivery, oldest dropped first (about, on Redis)",
      default: DEFAULT_MAX_TOPIC_LENGTH,
    },
  },
  async open(url, ctx) {
    const opened = await openQueueBackend(url, {
      maxDeliveries: ctx.options["max-deliveries"] as number,
      maxTopicLength: ctx.options["max-topic-length"] as number,
    });
    const guarded = ctx.guard(opened, QUEUE_CALLS);
    const observer = ctx.observer;
    const backend = observer
      ? withPolicyOf(
          guarded,
          countDeliveries(guarded, (outcome, n) => observer.queueDelivery(opened.name, outcome, n)),
        )
      : guarded;
    return queueInstance(backend, { requestTimeoutMs: ctx.limits.requestTimeoutMs, log: ctx.log });
  },
};
