/**
 * What an amqp queue sidecar holds unacked: per consumer a buffer of prefetched messages, and the deliveries
 * handed out with their visibility timers. A delivery that times out or is nacked goes back to its place in the
 * buffer (by delivery tag), still unacked on its channel: it is the next one delivered (a nack to the broker
 * would queue it behind what is buffered here), and a timed-out one can still be acked until it is taken
 * again, as on the other backends. The broker gets it back when the buffer is released or the channel closes.
 */
import type { Channel, ConsumeMessage } from "amqplib";

export interface Consumer {
  key: string;
  ch: Channel;
  tag: string;
  /** Unacked messages waiting here, in delivery-tag order (a message given back returns to its place). */
  buffer: ConsumeMessage[];
  /** Last receive, or last time a delivery came back to the buffer; the idle release counts from here. */
  lastUsed: number;
  /**
   * Deliveries in flight on this consumer (handed out, or timed out and back in the buffer); a retired
   * consumer's channel closes when this reaches 0.
   */
  held: number;
  retired: boolean;
  /** Removes this consumer (and not a newer one for the same target) from the backend's map. */
  forget(): void;
}

export interface Held {
  msg: ConsumeMessage;
  consumer: Consumer;
  /** Undefined once the visibility timeout passed: the message is back in the buffer, still ackable. */
  timer?: NodeJS.Timeout;
}

/** The stable id: our `messageId`, or for messages published by others the (per-channel) delivery tag. */
export function idOf(msg: ConsumeMessage): string {
  return msg.properties.messageId ? String(msg.properties.messageId) : `tag-${msg.fields.deliveryTag}`;
}

export function nackToBroker(c: Consumer, msg: ConsumeMessage): void {
  try {
    c.ch.nack(msg, false, true);
  } catch {
    // channel already closed: the broker has requeued the message itself
  }
}

/** Deliveries in flight, by `<target key>\n<id>`. */
export class InFlight {
  private held = new Map<string, Held>();

  /** `notify(targetKey)` wakes long-polls when a message comes back to a buffer. */
  constructor(private notify: (key: string) => void) {}

  /** A delivery whose visibility timeout passed while it waits in the buffer to be taken again. */
  isExpired(k: string, msg: ConsumeMessage): boolean {
    const h = this.held.get(k);
    return h?.msg === msg && h.timer === undefined;
  }

  /** Hands `msg` (just taken from the buffer) out for `visibilityMs`; a timed-out one taken again stays held. */
  take(k: string, c: Consumer, msg: ConsumeMessage, visibilityMs: number): void {
    if (!this.isExpired(k, msg)) c.held++;
    const h: Held = { msg, consumer: c };
    h.timer = setTimeout(() => this.expire(k, h), visibilityMs);
    this.held.set(k, h);
  }

  /** Ends a delivery (ack, nack, dead letter): the caller settles the message with the channel. */
  settle(k: string): Held | undefined {
    const h = this.held.get(k);
    if (!h) return undefined;
    this.held.delete(k);
    const c = h.consumer;
    if (h.timer) clearTimeout(h.timer);
    else c.buffer = c.buffer.filter((m) => m !== h.msg); // timed out: it waits in the buffer
    c.held--;
    if (c.retired && c.held === 0) setImmediate(() => c.ch.close().catch(() => {}));
    return h;
  }

  /** Puts an unacked message back at its place in its consumer's buffer (to the broker if that is released). */
  giveBack(c: Consumer, msg: ConsumeMessage): void {
    if (c.retired) {
      nackToBroker(c, msg);
      return;
    }
    let i = c.buffer.length;
    while (i > 0 && c.buffer[i - 1]!.fields.deliveryTag > msg.fields.deliveryTag) i--;
    c.buffer.splice(i, 0, msg);
    c.lastUsed = Date.now(); // a late ack or the next taker gets a full idle period before the release
    this.notify(c.key);
  }

  private expire(k: string, h: Held) {
    if (this.held.get(k) !== h) return;
    if (h.consumer.retired) {
      this.settle(k);
      return nackToBroker(h.consumer, h.msg);
    }
    h.timer = undefined; // stays in flight, so a late ack still finds it, until it is taken again
    this.giveBack(h.consumer, h.msg);
  }

  /** A buffer goes back to the broker: a timed-out delivery in it ends (true) without being counted again. */
  release(k: string, msg: ConsumeMessage): boolean {
    if (!this.isExpired(k, msg)) return false;
    const h = this.held.get(k)!;
    this.held.delete(k);
    h.consumer.held--;
    return true;
  }

  /** The consumer's channel is gone and the broker requeued what was unacked on it. */
  drop(c: Consumer): void {
    c.buffer = [];
    for (const [k, h] of this.held) {
      if (h.consumer !== c) continue;
      clearTimeout(h.timer);
      this.held.delete(k);
    }
    c.held = 0;
  }

  /** The connection is gone (or closing): everything unacked on it returns to the broker. */
  clear(): void {
    for (const h of this.held.values()) clearTimeout(h.timer);
    this.held.clear();
  }
}
