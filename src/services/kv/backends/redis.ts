/**
 * Redis-backed KV (ioredis), so several sidecar replicas can share one store. Redis does expiry itself; the
 * change feed uses keyspace notifications, which this backend switches on when a watch starts.
 */
import { Redis } from "ioredis";
import { sidecarError } from "../../../shared/errors.js";
import { connectRedis, escapeRedisGlob, mapRedisError, parseRedisUrl } from "../../../shared/redis.js";
import {
  compareKeys,
  notIntegerError,
  overflowError,
  type KeysQuery,
  type KvBackend,
  type KvEvent,
} from "../backend.js";

const SCAN_COUNT = 1_000;

export class RedisKv implements KvBackend {
  readonly name = "redis";
  private client: Redis;
  private prefix: string;
  private db: number;
  private subscribers = new Set<Redis>();

  private constructor(url: string) {
    const t = parseRedisUrl(url);
    this.client = new Redis(t.options);
    this.prefix = t.prefix;
    this.db = t.db;
  }

  static async open(url: string): Promise<RedisKv> {
    const kv = new RedisKv(url);
    await connectRedis(kv.client);
    return kv;
  }

  private k(key: string) {
    return this.prefix + key;
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      return mapRedisError(err);
    }
  }

  get(key: string) {
    return this.call(async () => (await this.client.getBuffer(this.k(key))) ?? undefined);
  }

  getMany(keys: readonly string[]) {
    if (keys.length === 0) return Promise.resolve([]);
    return this.call(async () =>
      (await this.client.mgetBuffer(...keys.map((k) => this.k(k)))).map((v) => v ?? undefined),
    );
  }

  async set(key: string, value: Uint8Array, ttlMs?: number) {
    await this.call(() =>
      ttlMs
        ? this.client.set(this.k(key), Buffer.from(value), "PX", ttlMs)
        : this.client.set(this.k(key), Buffer.from(value)),
    );
  }

  async setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>, ttlMs?: number) {
    if (entries.length === 0) return;
    await this.call(async () => {
      const m = this.client.multi();
      for (const [k, v] of entries) {
        if (ttlMs) m.set(this.k(k), Buffer.from(v), "PX", ttlMs);
        else m.set(this.k(k), Buffer.from(v));
      }
      const results = await m.exec();
      const failed = results?.find(([err]) => err);
      if (!results || failed) throw failed?.[0] ?? new Error("Connection is closed");
    });
  }

  async delete(key: string) {
    return this.call(async () => (await this.client.del(this.k(key))) > 0);
  }

  async keys(q: KeysQuery) {
    // SCAN yields keys unordered, so a sorted page needs every candidate; the literal prefix narrows the scan.
    const match = escapeRedisGlob(this.prefix + q.prefix) + "*";
    const all = await this.call(async () => {
      const found: string[] = [];
      let cursor = "0";
      do {
        const [next, batch] = await this.client.scan(cursor, "MATCH", match, "COUNT", SCAN_COUNT);
        cursor = next;
        for (const full of batch) found.push(full.slice(this.prefix.length));
      } while (cursor !== "0");
      return found;
    });
    const keys = [...new Set(all)]
      .filter((key) => (!q.match || q.match(key)) && (q.after === undefined || compareKeys(key, q.after) > 0))
      .sort(compareKeys);
    return { keys: keys.slice(0, q.limit), more: keys.length > q.limit };
  }

  async increment(key: string, by: bigint) {
    return this.call(async () => {
      // GET inside the same MULTI returns the exact text; INCRBY's reply would pass through a JS double.
      const results = await this.client.multi().incrby(this.k(key), by.toString()).get(this.k(key)).exec();
      if (!results) throw new Error("Connection is closed");
      const [[incrErr], [, text]] = results as [[Error | null, unknown], [Error | null, string]];
      if (incrErr) {
        if (/overflow/i.test(incrErr.message)) throw overflowError(key);
        if (/not an integer|WRONGTYPE/i.test(incrErr.message)) throw notIntegerError(key);
        throw incrErr;
      }
      return BigInt(text);
    });
  }

  pttl(key: string) {
    return this.call(() => this.client.pttl(this.k(key)));
  }

  async expire(key: string, ttlMs: number) {
    return this.call(async () => (await this.client.pexpire(this.k(key), ttlMs)) === 1);
  }

  async *watch(prefix: string, signal: AbortSignal): AsyncIterable<KvEvent> {
    await this.enableNotifications();
    // Named so that operators (and tests) can count a sidecar's watch connections in CLIENT LIST.
    const sub = this.client.duplicate({
      enableOfflineQueue: true,
      lazyConnect: false,
      connectionName: `mikcar-kv-watch:${this.prefix.replace(/[^\x21-\x7e]/g, "_")}`,
    });
    sub.on("error", () => {});
    this.subscribers.add(sub);
    const channelHead = `__keyspace@${this.db}__:`;
    const queue: Array<{ key: string; op: string }> = [];
    let wake: (() => void) | undefined;
    sub.on("pmessage", (_p: string, channel: string, op: string) => {
      queue.push({ key: channel.slice(channelHead.length + this.prefix.length), op });
      wake?.();
    });
    // Let go of the subscription as soon as the watcher is gone, even if its consumer is stuck mid-write.
    const onAbort = () => {
      this.subscribers.delete(sub);
      sub.disconnect();
      wake?.();
    };
    signal.addEventListener("abort", onAbort);
    try {
      await this.call(() => sub.psubscribe(channelHead + escapeRedisGlob(this.prefix + prefix) + "*"));
      while (!signal.aborted) {
        const next = queue.shift();
        if (!next) {
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
          continue;
        }
        const ev = await this.toEvent(next.key, next.op);
        if (ev) yield ev;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.subscribers.delete(sub);
      sub.disconnect();
    }
  }

  private async toEvent(key: string, op: string): Promise<KvEvent | undefined> {
    if (op === "del") return { type: "delete", key };
    if (op === "expired") return { type: "expire", key };
    if (op === "set" || op === "incrby") {
      // Notifications carry no value: read it now (a later write may win; its own event follows).
      const value = await this.get(key).catch(() => undefined);
      return value === undefined ? undefined : { type: "set", key, value };
    }
    return undefined;
  }

  /** Keyspace events for generic (K g), string ($) and expiry (x) operations; refused by some managed Redis. */
  private async enableNotifications() {
    try {
      const [, current = ""] = (await this.client.config("GET", "notify-keyspace-events")) as string[];
      const need = ["K", "g", "$", "x"].filter((f) => !current.includes(f) && !(current.includes("A") && f !== "K"));
      if (need.length > 0) await this.client.config("SET", "notify-keyspace-events", current + need.join(""));
    } catch (err) {
      mapRedisError(
        /ERR unknown command|NOPERM|not allowed/i.test(String(err))
          ? sidecarError(
              "PRECONDITION_FAILED",
              "watch needs Redis keyspace notifications: set notify-keyspace-events to include K$gx",
            )
          : err,
      );
    }
  }

  async ping() {
    await this.call(() => this.client.ping());
  }

  async close() {
    for (const s of this.subscribers) s.disconnect();
    this.client.disconnect();
  }
}
