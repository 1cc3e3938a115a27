/**
 * The queue backend interface. A backend stores messages for work queues and topic groups and tracks each
 * delivery's visibility deadline and delivery count, so that every backend redelivers and dead-letters alike
 * (checked by one contract suite). Long-polling, validation and ack modes live in the service, not here.
 */

/** The group of a subscribe that names none: created by the topic's first publish on every backend. */
export const DEFAULT_GROUP = "default";

/** Where messages are taken from: a work queue, or one subscriber group of a topic. */
export type Target = { kind: "queue"; name: string } | { kind: "topic"; name: string; group: string };

export interface Delivery {
  /** Stable across redeliveries of the same message in the same queue. */
  id: string;
  /** The payload as JSON text. */
  payload: string;
  /** 1 for the first delivery. */
  deliveryCount: number;
}

export type AckResult = "acked" | "already-acked" | "unknown";

/**
 * How a delivery is given back: `requeue` counts as a failed attempt, `release` does not (the client never saw
 * it, e.g. it went away before an auto-ack response was written), `dead-letter` moves it to the DLQ now.
 */
export type NackMode = "requeue" | "release" | "dead-letter";

export interface QueueBackendOptions {
  /** Deliveries after which a message goes to the dead-letter queue instead of being delivered again. */
  maxDeliveries: number;
  /**
   * Messages a topic group holds waiting for delivery, at most; the oldest go first. Exact on memory and RabbitMQ
   * (`x-max-length`), about on Redis (the topic stream is trimmed with `MAXLEN ~`).
   */
  maxTopicLength: number;
}

export interface QueueBackend {
  /** Short name shown in health and logs: "memory", "redis", "amqp". */
  readonly name: string;
  push(queue: string, payload: string): Promise<string>;
  /**
   * Copies the message to every group of the topic that exists now. The default group exists from the topic's
   * first publish, so what is published before its first subscribe waits for it; other groups are created by
   * their first `receive` and see what is published from then on.
   */
  publish(topic: string, payload: string): Promise<string>;
  /**
   * Takes up to `max` messages without waiting: deliveries whose visibility deadline passed first, then new
   * ones. Each returned delivery is invisible to others for `visibilityMs`. Creates a topic group on first use.
   * A message that already had `maxDeliveries` deliveries moves to the dead-letter queue instead.
   */
  receive(target: Target, max: number, visibilityMs: number): Promise<Delivery[]>;
  /**
   * Resolves when `receive` on `target` may find something new since `since` (a token from `version`), or after
   * `ms`, or when `signal` aborts. Spurious wake-ups are allowed.
   */
  wait(target: Target, since: number, ms: number, signal: AbortSignal): Promise<void>;
  /** A change counter for `target`, read before `receive` so a wake-up between the two is not missed. */
  version(target: Target): number;
  ack(target: Target, id: string): Promise<AckResult>;
  /** Returns false when `id` is not a delivery in flight. */
  nack(target: Target, id: string, mode: NackMode): Promise<boolean>;
  /** Messages of a work queue waiting for delivery (not counting deliveries in flight). */
  len(queue: string): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The dead-letter queue of a work queue or topic group (itself a plain work queue). */
export function deadLetterQueue(t: Target): string {
  return t.kind === "queue" ? `${t.name}.dlq` : `${t.name}.${t.group}.dlq`;
}

/** A printable key for a target, used by backends for maps and channel names. */
export function targetKey(t: Target): string {
  return t.kind === "queue" ? `q|${t.name}` : `t|${t.name}|${t.group}`;
}
