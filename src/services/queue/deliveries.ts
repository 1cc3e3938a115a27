/**
 * Counts queue deliveries for `mikcar_queue_deliveries_total`: acks that settled a message, deliveries of a
 * message seen before (redelivered), and messages a consumer sent to the dead-letter queue. Messages a backend
 * moves to the dead-letter queue on its own after too many deliveries are not seen here.
 */
import type { DeliveryOutcome } from "../../shared/instrument.js";
import type { QueueBackend } from "./backend.js";

export function countDeliveries(b: QueueBackend, count: (outcome: DeliveryOutcome, n: number) => void): QueueBackend {
  return {
    get name() {
      return b.name;
    },
    push: (queue, payload) => b.push(queue, payload),
    publish: (topic, payload) => b.publish(topic, payload),
    async receive(target, max, visibilityMs) {
      const got = await b.receive(target, max, visibilityMs);
      let again = 0;
      for (const d of got) if (d.deliveryCount > 1) again++;
      if (again > 0) count("redelivered", again);
      return got;
    },
    wait: (target, since, ms, signal) => b.wait(target, since, ms, signal),
    version: (target) => b.version(target),
    async ack(target, id) {
      const r = await b.ack(target, id);
      if (r === "acked") count("acked", 1);
      return r;
    },
    async nack(target, id, mode) {
      const r = await b.nack(target, id, mode);
      if (r && mode === "dead-letter") count("dead-lettered", 1);
      return r;
    },
    len: (queue) => b.len(queue),
    ping: () => b.ping(),
    close: () => b.close(),
  };
}
