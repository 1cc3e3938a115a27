/**
 * What names a resource in each queue call (the queue or topic; an ack names either), for the server's policy:
 * see ../resources.ts. Replies carry message ids and payloads but no names, so nothing is taken out of them.
 */
import type { QueueService } from "../../../gen/mikcar/queue/v1/queue_pb.js";
import type { NameView, ServiceResources } from "../resources.js";

const queue = {
  names: (r: { queue: string }) => [r.queue],
  into: (r: { queue: string }, v: NameView) => {
    r.queue = v.into(r.queue);
  },
};
const topic = {
  names: (r: { topic: string }) => [r.topic],
  into: (r: { topic: string }, v: NameView) => {
    r.topic = v.into(r.topic);
  },
};
const named = {
  names: (r: { name: string }) => [r.name],
  into: (r: { name: string }, v: NameView) => {
    r.name = v.into(r.name);
  },
};

export const queueResources: ServiceResources<typeof QueueService> = {
  namespaced: true,
  methods: {
    push: queue,
    pop: queue,
    len: queue,
    publish: topic,
    subscribe: topic,
    stream: { ...topic, longLived: true },
    ack: named,
    nack: named,
  },
};
