/** In-process KV: a Map with expiries. For development and tests; nothing survives a restart. */
import {
  addChecked,
  compareKeys,
  notIntegerError,
  parseStoredInteger,
  type KeysQuery,
  type KvBackend,
} from "../backend.js";
import { EventHub } from "../event-hub.js";

interface Entry {
  value: Uint8Array;
  /** Epoch ms; 0 = never. */
  expiresAt: number;
}

export interface MemoryKvOptions {
  /** Clock in epoch ms, injectable so TTL tests need not sleep. */
  now?: () => number;
  /** How often expired keys are purged in the background (ms). */
  purgeIntervalMs?: number;
}

export class MemoryKv implements KvBackend {
  readonly name = "memory";
  private map = new Map<string, Entry>();
  private hub = new EventHub();
  private now: () => number;
  private timer: NodeJS.Timeout;

  constructor(opts: MemoryKvOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.timer = setInterval(() => this.purge(), opts.purgeIntervalMs ?? 1_000);
    this.timer.unref();
  }

  /** Removes expired entries; returns how many. Runs in the background, callable directly by tests. */
  purge(): number {
    const now = this.now();
    let n = 0;
    for (const [key, e] of this.map) {
      if (e.expiresAt !== 0 && e.expiresAt <= now) {
        this.map.delete(key);
        this.hub.emit({ type: "expire", key });
        n++;
      }
    }
    return n;
  }

  private live(key: string): Entry | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expiresAt !== 0 && e.expiresAt <= this.now()) {
      this.map.delete(key);
      this.hub.emit({ type: "expire", key });
      return undefined;
    }
    return e;
  }

  private put(key: string, value: Uint8Array, expiresAt: number) {
    this.map.set(key, { value, expiresAt });
    if (this.hub.active) this.hub.emit({ type: "set", key, value });
  }

  async get(key: string) {
    return this.live(key)?.value;
  }

  async getMany(keys: readonly string[]) {
    return keys.map((k) => this.live(k)?.value);
  }

  async set(key: string, value: Uint8Array, ttlMs?: number) {
    this.put(key, Uint8Array.from(value), ttlMs ? this.now() + ttlMs : 0);
  }

  async setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>, ttlMs?: number) {
    const expiresAt = ttlMs ? this.now() + ttlMs : 0;
    for (const [k, v] of entries) this.put(k, Uint8Array.from(v), expiresAt);
  }

  async delete(key: string) {
    const existed = this.live(key) !== undefined;
    if (existed) {
      this.map.delete(key);
      this.hub.emit({ type: "delete", key });
    }
    return existed;
  }

  async keys(q: KeysQuery) {
    const out: string[] = [];
    for (const key of this.map.keys()) {
      if (!key.startsWith(q.prefix) || (q.match && !q.match(key))) continue;
      if (q.after !== undefined && compareKeys(key, q.after) <= 0) continue;
      if (this.live(key)) out.push(key);
    }
    out.sort(compareKeys);
    return { keys: out.slice(0, q.limit), more: out.length > q.limit };
  }

  async increment(key: string, by: bigint) {
    const e = this.live(key);
    const current = e ? parseStoredInteger(e.value) : 0n;
    if (current === undefined) throw notIntegerError(key);
    const next = addChecked(key, current, by);
    this.put(key, Buffer.from(next.toString()), e?.expiresAt ?? 0);
    return next;
  }

  async pttl(key: string) {
    const e = this.live(key);
    if (!e) return -2;
    return e.expiresAt === 0 ? -1 : e.expiresAt - this.now();
  }

  async expire(key: string, ttlMs: number) {
    const e = this.live(key);
    if (!e) return false;
    e.expiresAt = this.now() + ttlMs;
    return true;
  }

  watch(prefix: string, signal: AbortSignal) {
    return this.hub.subscribe(prefix, signal);
  }

  async ping() {}

  async close() {
    clearInterval(this.timer);
    this.map.clear();
  }
}
