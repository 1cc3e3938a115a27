/**
 * Redis Streams queues, shared by any number of sidecar replicas. A work queue is a stream with one consumer
 * group (acked entries are deleted); a topic is a stream with a consumer group per subscriber group, trimmed
 * to about `maxTopicLength` entries, its default group created by the first publish. Visibility deadlines and delivery counts live in Redis (see
 * redis-scripts.ts). Long-polls are woken through Pub/Sub, so no connection is held in a blocking read.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { connectRedis, escapeRedisGlob, mapRedisError, parseRedisUrl } from "../../../shared/redis.js";
import {
  DEFAULT_GROUP,
  deadLetterQueue,
  type AckResult,
  type Delivery,
  type NackMode,
  type QueueBackend,
  type QueueBackendOptions,
  type Target,
} from "../backend.js";
import { Waiters } from "../waiters.js";
import { ACK, LEN, NACK, PUBLISH, RECEIVE } from "./redis-scripts.js";

/** Deadlines set by other replicas are not announced: look again at least this often while waiting. */
const MAX_SLEEP_MS = 5_000;
const QUEUE_GROUP = "q";

type Script = (...args: Array<string | number>) => Promise<unknown>;
interface Scripts {
  mqPublish: Script;
  mqReceive: Script;
  mqAck: Script;
  mqNack: Script;
  mqLen: Script;
}

export class RedisQueue implements QueueBackend {
  readonly name = "redis";
  private client: Redis;
  private sub: Redis;
  private prefix: string;
  private consumer = `c-${randomBytes(6).toString("hex")}`;
  private waiters = new Waiters();
  /** Local time of the earliest visibility deadline seen per stream, to wake waiters for redelivery. */
  private nextDue = new Map<string, number>();

  private constructor(
    url: string,
    private opts: QueueBackendOptions,
  ) {
    const t = parseRedisUrl(url);
    this.prefix = t.prefix + "mq:";
    this.client = new Redis(t.options);
    this.sub = new Redis({ ...t.options, enableOfflineQueue: true });
    for (const [name, lua, keys] of [
      ["mqPublish", PUBLISH, 1],
      ["mqReceive", RECEIVE, 4],
      ["mqAck", ACK, 4],
      ["mqNack", NACK, 4],
      ["mqLen", LEN, 1],
    ] as const) {
      this.client.defineCommand(name, { lua, numberOfKeys: keys });
    }
    // One wake-up is published per message: on a work queue it is for one consumer, so it wakes one waiter; a
    // topic's key is shared by all its groups, so every waiter looks.
    this.sub.on("pmessage", (_p: string, channel: string) => {
      const key = channel.slice(this.wakePrefix.length);
      this.waiters.notify(key, key.startsWith("q:"));
    });
    // Wake-ups published while the subscriber was away are lost: let every waiter look again.
    this.sub.on("ready", () => this.waiters.notifyAll());
  }

  static async open(url: string, opts: QueueBackendOptions): Promise<RedisQueue> {
    const q = new RedisQueue(url, opts);
    await Promise.all([connectRedis(q.client), connectRedis(q.sub)]);
    // ioredis resubscribes on reconnect; while Redis is down this would wait, so start-up does not.
    const subscribed = q.sub.psubscribe(escapeRedisGlob(q.wakePrefix) + "*").catch(() => {});
    await Promise.race([subscribed, new Promise((r) => setTimeout(r, 3_000).unref())]);
    return q;
  }

  private get wakePrefix() {
    return this.prefix + "wake:";
  }

  private get scripts(): Scripts {
    return this.client as unknown as Scripts;
  }

  private stream(t: Target) {
    return t.kind === "queue" ? `${this.prefix}q:${t.name}` : `${this.prefix}t:${t.name}`;
  }

  /** Waiters are per stream: a publish wakes every group of the topic. */
  private wakeKey(t: Target) {
    return t.kind === "queue" ? `q:${t.name}` : `t:${t.name}`;
  }

  private keys(t: Target) {
    const stream = this.stream(t);
    const group = t.kind === "queue" ? QUEUE_GROUP : t.group;
    const base = `${stream}|${group}|`;
    const dlq: Target = { kind: "queue", name: deadLetterQueue(t) };
    return {
      stream,
      group,
      vis: base + "vis",
      dc: base + "dc",
      acked: base + "acked",
      dlq: this.stream(dlq),
      wake: this.wakePrefix + this.wakeKey(t),
      wakeDlq: this.wakePrefix + this.wakeKey(dlq),
      isQueue: t.kind === "queue" ? "1" : "0",
    };
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      return mapRedisError(err);
    }
  }

  push(queue: string, payload: string) {
    const k = this.keys({ kind: "queue", name: queue });
    return this.call(async () => {
      const res = await this.client.multi().xadd(k.stream, "*", "p", payload).publish(k.wake, "1").exec();
      const failed = res?.find(([err]) => err);
      if (!res || failed) throw failed?.[0] ?? new Error("Connection is closed");
      return res[0]![1] as string;
    });
  }

  publish(topic: string, payload: string) {
    const k = this.keys({ kind: "topic", name: topic, group: DEFAULT_GROUP });
    return this.call(
      async () =>
        (await this.scripts.mqPublish(k.stream, DEFAULT_GROUP, this.opts.maxTopicLength, payload, k.wake)) as string,
    );
  }

  async receive(t: Target, max: number, visibilityMs: number): Promise<Delivery[]> {
    const k = this.keys(t);
    const start = t.kind === "queue" ? "0" : "$"; // a new topic group sees what is published from now on
    const r = (await this.call(() =>
      this.scripts.mqReceive(
        k.stream,
        k.vis,
        k.dc,
        k.dlq,
        k.group,
        this.consumer,
        max,
        visibilityMs,
        this.opts.maxDeliveries,
        k.isQueue,
        start,
        k.wakeDlq,
      ),
    )) as Array<string | number>;
    const [now, next] = [Number(r[0]), Number(r[1])];
    if (next >= 0) this.nextDue.set(this.wakeKey(t), Date.now() + (next - now));
    else this.nextDue.delete(this.wakeKey(t));
    const out: Delivery[] = [];
    for (let i = 2; i < r.length; i += 3)
      out.push({ id: String(r[i]), payload: String(r[i + 1]), deliveryCount: Number(r[i + 2]) });
    return out;
  }

  version(t: Target) {
    return this.waiters.version(this.wakeKey(t));
  }

  async wait(t: Target, since: number, ms: number, signal: AbortSignal) {
    const due = this.nextDue.get(this.wakeKey(t));
    const untilDue = due === undefined ? Infinity : Math.max(1, due - Date.now());
    await this.waiters.wait(this.wakeKey(t), since, Math.min(ms, untilDue, MAX_SLEEP_MS), signal);
  }

  async ack(t: Target, id: string): Promise<AckResult> {
    const k = this.keys(t);
    const r = Number(await this.call(() => this.scripts.mqAck(k.stream, k.vis, k.dc, k.acked, k.group, id, k.isQueue)));
    return r === 1 ? "acked" : r === 0 ? "already-acked" : "unknown";
  }

  async nack(t: Target, id: string, mode: NackMode) {
    const k = this.keys(t);
    const r = await this.call(() =>
      this.scripts.mqNack(k.stream, k.vis, k.dc, k.dlq, k.group, id, mode, k.isQueue, k.wake, k.wakeDlq),
    );
    return Number(r) === 1;
  }

  async len(queue: string) {
    return Number(await this.call(() => this.scripts.mqLen(this.stream({ kind: "queue", name: queue }))));
  }

  async ping() {
    await this.call(() => this.client.ping());
  }

  async close() {
    this.waiters.notifyAll();
    this.sub.disconnect();
    this.client.disconnect();
  }
}
