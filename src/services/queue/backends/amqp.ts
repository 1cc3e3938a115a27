/**
 * RabbitMQ queues (amqplib). A work queue is a durable queue; a topic is a durable fanout exchange with a
 * durable queue per subscriber group (at most `maxTopicLength` ready messages), bound by the group's first
 * subscribe, or for the default group by the topic's first publish. Messages are persistent, published
 * with confirms and carry a stable `messageId`. Consumers use prefetch (no polling), so this sidecar holds a
 * buffer of unacked messages per queue/group; visibility timeouts are timers here, and a delivery that times
 * out or is nacked waits at the front of that buffer (see amqp-inflight.ts). The buffer goes back to the broker
 * when it sits idle, on close, and by itself when the channel or connection dies, so nothing taken is lost. An
 * ack must reach the sidecar (and channel) that delivered the message. After a broker restart or a dropped
 * connection the next call reconnects; whatever was in flight was requeued by the broker and is delivered again.
 */
import { createHash } from "node:crypto";
import type { ConsumeMessage } from "amqplib";
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
import { idOf, InFlight, nackToBroker, type Consumer } from "./amqp-inflight.js";
import { AmqpLink, mapAmqpError } from "./amqp-link.js";

/** Unacked messages one consumer may hold (buffered here or in flight with clients). */
const PREFETCH = 100;
/** Buffered messages nobody asked for in this long go back to the broker for other sidecars. */
const IDLE_RELEASE_MS = 2_000;
const MAX_COUNTS = 100_000;

export class AmqpQueue implements QueueBackend {
  readonly name = "amqp";
  private link: AmqpLink;
  private prefix: string;
  private consumers = new Map<string, Promise<Consumer>>();
  private counts = new Map<string, number>();
  private acked = new Map<string, RecentIds>();
  private waiters = new Waiters();
  private inflight = new InFlight((key) => this.waiters.notify(key));
  private idleTimer: NodeJS.Timeout;

  private constructor(
    url: string,
    private opts: QueueBackendOptions,
  ) {
    const u = new URL(url);
    this.prefix = u.searchParams.get("prefix") ?? "";
    u.searchParams.delete("prefix");
    this.link = new AmqpLink(u.toString(), () => this.lost());
    this.idleTimer = setInterval(() => this.releaseIdle(), IDLE_RELEASE_MS / 2).unref();
  }

  /** Connects, but does not fail start-up when RabbitMQ is down: calls get 503 until it is back. */
  static async open(url: string, opts: QueueBackendOptions): Promise<AmqpQueue> {
    const q = new AmqpQueue(url, opts);
    await q.link.connection().catch(() => {});
    return q;
  }

  /** RabbitMQ names are at most 255 bytes: long composed names are replaced by a digest. */
  private rabbitName(kind: string, ...parts: string[]) {
    const name = `${this.prefix}${kind}|${parts.join("|")}`;
    return Buffer.byteLength(name) <= 255
      ? name
      : `${this.prefix}${kind}#${createHash("sha256").update(name).digest("hex")}`;
  }

  private queueName(t: Target) {
    return t.kind === "queue" ? this.rabbitName("q", t.name) : this.rabbitName("t", t.name, t.group);
  }

  /** The connection is gone and the broker requeued what was unacked on it: forget those deliveries. */
  private lost() {
    this.consumers.clear();
    this.inflight.clear();
    this.waiters.notifyAll();
  }

  private async op<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      return mapAmqpError(err);
    }
  }

  push(queue: string, payload: string) {
    const name = this.queueName({ kind: "queue", name: queue });
    return this.op(async () => {
      await this.link.assertQueue(name);
      return this.link.send("", name, payload);
    });
  }

  publish(topic: string, payload: string) {
    const exchange = this.rabbitName("x", topic);
    const defaultQueue = this.queueName({ kind: "topic", name: topic, group: DEFAULT_GROUP });
    return this.op(async () => {
      await this.link.assertGroupQueue(defaultQueue, exchange, this.opts.maxTopicLength);
      return this.link.send(exchange, "", payload);
    });
  }

  private consumer(t: Target): Promise<Consumer> {
    const key = targetKey(t);
    const found = this.consumers.get(key);
    if (found) return found;
    const forget = () => this.consumers.get(key) === p && this.consumers.delete(key);
    const p: Promise<Consumer> = this.startConsumer(t, key, forget);
    this.consumers.set(key, p);
    p.catch(forget);
    return p;
  }

  private async startConsumer(t: Target, key: string, forget: () => void): Promise<Consumer> {
    const ch = await (await this.link.connection()).createChannel();
    ch.on("error", () => {});
    const c: Consumer = { key, ch, tag: "", buffer: [], lastUsed: Date.now(), held: 0, retired: false, forget };
    const name = this.queueName(t);
    try {
      await ch.prefetch(PREFETCH);
      if (t.kind === "topic") {
        // Fresh: a group queue deleted since it was first declared must not leave this consumer failing.
        await this.link.assertGroupQueue(name, this.rabbitName("x", t.name), this.opts.maxTopicLength, true);
      } else {
        await ch.assertQueue(name, { durable: true });
      }
      const { consumerTag } = await ch.consume(name, (msg) => {
        if (!msg) return void this.retire(c); // cancelled by the broker (queue deleted)
        if (this.countOf(key, msg) >= this.opts.maxDeliveries)
          return void this.deadLetter(t, c, msg).catch(() => nackToBroker(c, msg));
        c.buffer.push(msg);
        this.waiters.notify(key);
      });
      c.tag = consumerTag;
    } catch (err) {
      ch.close().catch(() => {});
      throw err;
    }
    ch.on("close", () => this.closed(c));
    return c;
  }

  private countOf(key: string, msg: ConsumeMessage) {
    // Counts live in this sidecar; a message the broker redelivered from elsewhere had at least one delivery.
    return this.counts.get(`${key}\n${idOf(msg)}`) ?? (msg.fields.redelivered ? 1 : 0);
  }

  private setCount(k: string, n: number) {
    this.counts.delete(k);
    this.counts.set(k, n);
    if (this.counts.size > MAX_COUNTS) this.counts.delete(this.counts.keys().next().value!);
  }

  private async deadLetter(t: Target, c: Consumer, msg: ConsumeMessage) {
    const dlq = this.queueName({ kind: "queue", name: deadLetterQueue(t) });
    await this.link.assertQueue(dlq);
    await this.link.send("", dlq, msg.content.toString("utf8"));
    c.ch.ack(msg); // only once the dead letter is confirmed: a crash in between duplicates, never loses
    this.counts.delete(`${c.key}\n${idOf(msg)}`);
    this.waiters.notify(targetKey({ kind: "queue", name: deadLetterQueue(t) }));
  }

  /** Stops a consumer: buffered messages go back to the broker; its channel closes once nothing is held. */
  private retire(c: Consumer) {
    c.retired = true;
    c.forget();
    if (c.tag) c.ch.cancel(c.tag).catch(() => {});
    for (const msg of c.buffer.splice(0)) {
      const k = `${c.key}\n${idOf(msg)}`;
      // A timed-out delivery ends here with its count as it is; a message never handed out (or nacked) gets its
      // count pinned, so the broker's "redelivered" flag does not count as another delivery here.
      if (!this.inflight.release(k, msg)) this.setCount(k, this.countOf(c.key, msg));
      nackToBroker(c, msg);
    }
    if (c.held === 0) c.ch.close().catch(() => {});
  }

  /** The channel is gone and the broker requeued whatever was unacked on it: forget its deliveries. */
  private closed(c: Consumer) {
    c.forget();
    c.retired = true;
    this.inflight.drop(c);
  }

  private async releaseIdle() {
    const now = Date.now();
    for (const p of this.consumers.values()) {
      const c = await p.catch(() => undefined);
      if (c && !c.retired && c.buffer.length > 0 && now - c.lastUsed > IDLE_RELEASE_MS) this.retire(c);
    }
  }

  async receive(t: Target, max: number, visibilityMs: number): Promise<Delivery[]> {
    this.link.checkAlive();
    const c = await this.op(() => this.consumer(t));
    c.lastUsed = Date.now();
    const out: Delivery[] = [];
    while (out.length < max && c.buffer.length > 0) {
      const msg = c.buffer.shift()!;
      const id = idOf(msg);
      const k = `${c.key}\n${id}`;
      if (this.countOf(c.key, msg) >= this.opts.maxDeliveries) {
        // Timed out or nacked here as often as allowed (the consumer callback catches the broker's redeliveries).
        if (this.inflight.isExpired(k, msg)) this.inflight.settle(k);
        await this.deadLetter(t, c, msg).catch(() => nackToBroker(c, msg));
        continue;
      }
      const n = this.countOf(c.key, msg) + 1;
      this.setCount(k, n);
      this.inflight.take(k, c, msg, visibilityMs);
      out.push({ id, payload: msg.content.toString("utf8"), deliveryCount: n });
    }
    return out;
  }

  version(t: Target) {
    return this.waiters.version(targetKey(t));
  }

  async wait(t: Target, since: number, ms: number, signal: AbortSignal) {
    await this.waiters.wait(targetKey(t), since, ms, signal);
  }

  async ack(t: Target, id: string): Promise<AckResult> {
    this.link.checkAlive();
    const key = targetKey(t);
    const h = this.inflight.settle(`${key}\n${id}`);
    let acked = this.acked.get(key);
    if (!h) return acked?.has(id) ? "already-acked" : "unknown";
    await this.op(async () => h.consumer.ch.ack(h.msg));
    this.counts.delete(`${key}\n${id}`);
    if (!acked) this.acked.set(key, (acked = new RecentIds()));
    acked.add(id);
    return "acked";
  }

  async nack(t: Target, id: string, mode: NackMode) {
    const key = targetKey(t);
    const k = `${key}\n${id}`;
    this.link.checkAlive();
    const h = this.inflight.settle(k);
    if (!h) return false;
    if (mode === "dead-letter") {
      await this.op(() => this.deadLetter(t, h.consumer, h.msg)).catch((err) => {
        nackToBroker(h.consumer, h.msg); // back to the queue rather than stuck unacked
        throw err;
      });
      return true;
    }
    if (mode === "release") this.setCount(k, (this.counts.get(k) ?? 1) - 1);
    this.inflight.giveBack(h.consumer, h.msg);
    return true;
  }

  async len(queue: string) {
    const t: Target = { kind: "queue", name: queue };
    const name = this.queueName(t);
    return this.op(async () => {
      const messageCount = (await this.link.assertQueue(name, true)) ?? 0;
      const local = await this.consumers.get(targetKey(t))?.catch(() => undefined);
      // Expired deliveries waiting here are still in flight (ackable), as on the other backends.
      const waiting = local?.buffer.filter((m) => !this.inflight.isExpired(`${local.key}\n${idOf(m)}`, m)).length ?? 0;
      return messageCount + waiting;
    });
  }

  async ping() {
    await this.op(() => this.link.connection());
  }

  async close() {
    clearInterval(this.idleTimer);
    this.inflight.clear();
    this.waiters.notifyAll();
    await this.link.close();
  }
}
