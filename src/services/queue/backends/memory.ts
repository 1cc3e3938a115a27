/**
 * In-process queues: the embedded default. Same semantics as the shared backends, including visibility
 * deadlines, delivery counts and dead-lettering; the clock is injectable so tests can move time.
 */
import { randomUUID } from "node:crypto";
import {
  DEFAULT_GROUP,
  deadLetterQueue,
  targetKey,
  type AckResult,
  type Delivery,
  type NackMode,
  type QueueBackend,
  type QueueBackendOptions,
  type Target,
} from "../backend.js";
import { RecentIds } from "../recent-ids.js";
import { Waiters } from "../waiters.js";

interface Msg {
  id: string;
  payload: string;
  /** Arrival order, so a requeued message goes back to its place. */
  seq: number;
  deliveries: number;
}

class Channel {
  ready: Msg[] = [];
  inflight = new Map<string, { msg: Msg; deadline: number }>();
  acked = new RecentIds();

  /** Puts a message back in arrival order (requeued messages usually belong near the head). */
  requeue(msg: Msg) {
    let i = this.ready.length;
    while (i > 0 && this.ready[i - 1]!.seq > msg.seq) i--;
    this.ready.splice(i, 0, msg);
  }
}

export class MemoryQueue implements QueueBackend {
  readonly name = "memory";
  private queues = new Map<string, Channel>();
  private topics = new Map<string, Map<string, Channel>>();
  private waiters = new Waiters();
  private seq = 0;

  constructor(
    private opts: QueueBackendOptions,
    private now: () => number = Date.now,
  ) {}

  private queue(name: string) {
    let c = this.queues.get(name);
    if (!c) this.queues.set(name, (c = new Channel()));
    return c;
  }

  private channel(t: Target, create: boolean): Channel | undefined {
    if (t.kind === "queue") return create ? this.queue(t.name) : this.queues.get(t.name);
    let groups = this.topics.get(t.name);
    if (!groups && create) this.topics.set(t.name, (groups = new Map()));
    let c = groups?.get(t.group);
    if (!c && create) groups!.set(t.group, (c = new Channel()));
    return c;
  }

  private enqueue(queue: string, payload: string): string {
    const msg: Msg = { id: randomUUID(), payload, seq: ++this.seq, deliveries: 0 };
    this.queue(queue).ready.push(msg);
    this.waiters.notify(targetKey({ kind: "queue", name: queue }), true);
    return msg.id;
  }

  async push(queue: string, payload: string) {
    return this.enqueue(queue, payload);
  }

  async publish(topic: string, payload: string) {
    const id = randomUUID();
    const seq = ++this.seq;
    this.channel({ kind: "topic", name: topic, group: DEFAULT_GROUP }, true);
    for (const [group, c] of this.topics.get(topic)!) {
      c.ready.push({ id, payload, seq, deliveries: 0 });
      // Bounded like a Redis topic stream or a RabbitMQ group queue: the oldest waiting message goes.
      if (c.ready.length > this.opts.maxTopicLength) c.ready.shift();
      this.waiters.notify(targetKey({ kind: "topic", name: topic, group }), true);
    }
    return id;
  }

  async receive(t: Target, max: number, visibilityMs: number): Promise<Delivery[]> {
    const c = this.channel(t, true)!;
    const now = this.now();
    for (const [id, f] of c.inflight) {
      if (f.deadline <= now) {
        c.inflight.delete(id);
        c.requeue(f.msg);
      }
    }
    const out: Delivery[] = [];
    while (out.length < max && c.ready.length > 0) {
      const msg = c.ready.shift()!;
      if (msg.deliveries >= this.opts.maxDeliveries) {
        this.enqueue(deadLetterQueue(t), msg.payload);
        continue;
      }
      msg.deliveries++;
      c.inflight.set(msg.id, { msg, deadline: now + visibilityMs });
      out.push({ id: msg.id, payload: msg.payload, deliveryCount: msg.deliveries });
    }
    return out;
  }

  version(t: Target) {
    return this.waiters.version(targetKey(t));
  }

  async wait(t: Target, since: number, ms: number, signal: AbortSignal) {
    // Wake up when the earliest visibility deadline passes, since nothing notifies about time passing.
    let next = Infinity;
    for (const f of this.channel(t, false)?.inflight.values() ?? []) next = Math.min(next, f.deadline);
    await this.waiters.wait(targetKey(t), since, Math.min(ms, Math.max(1, next - this.now())), signal);
  }

  async ack(t: Target, id: string): Promise<AckResult> {
    const c = this.channel(t, false);
    if (!c) return "unknown";
    if (c.inflight.delete(id)) {
      c.acked.add(id);
      return "acked";
    }
    return c.acked.has(id) ? "already-acked" : "unknown";
  }

  async nack(t: Target, id: string, mode: NackMode) {
    const c = this.channel(t, false);
    const f = c?.inflight.get(id);
    if (!c || !f) return false;
    c.inflight.delete(id);
    if (mode === "dead-letter") {
      this.enqueue(deadLetterQueue(t), f.msg.payload);
      return true;
    }
    if (mode === "release") f.msg.deliveries--;
    c.requeue(f.msg);
    this.waiters.notify(targetKey(t), true);
    return true;
  }

  async len(queue: string) {
    return this.queues.get(queue)?.ready.length ?? 0;
  }

  async ping() {}

  async close() {
    this.waiters.notifyAll();
  }
}
