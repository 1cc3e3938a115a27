/**
 * The queue contract: one behaviour suite run against every backend (memory, Redis Streams, RabbitMQ) through
 * the one service implementation, so long-polls, ack modes and dead-lettering are checked on each; split by
 * concern (work queues, topics, acks).
 */
import { afterAll, beforeAll, describe } from "vitest";
import type { QueueBackend, QueueBackendOptions } from "../../../src/services/queue/backend.js";
import { createQueueService } from "../../../src/services/queue/service.js";
import { describeAcks } from "./acks.js";
import { describeDelivery } from "./delivery.js";
import { MAX_DELIVERIES, type QueueQuirks, QueueSuite } from "./suite.js";
import { describeTopics } from "./topics.js";

export { MAX_DELIVERIES, type QueueQuirks } from "./suite.js";

export function describeQueueContract(
  name: string,
  open: (opts: QueueBackendOptions) => Promise<QueueBackend>,
  quirks: QueueQuirks = {},
) {
  describe(`queue contract: ${name}`, () => {
    const s = new QueueSuite(quirks, open);
    beforeAll(async () => {
      s.backend = await open({ maxDeliveries: MAX_DELIVERIES, maxTopicLength: 10_000 });
      s.q = createQueueService(s.backend, { requestTimeoutMs: 30_000 });
    });
    afterAll(() => s.backend?.close());

    describeDelivery(s);
    describeTopics(s);
    describeAcks(s);
  });
}
