/**
 * In-process KV: a Map with expiries. For development and tests; nothing survives a restart. Two ordered
 * indexes (B+ trees) keep listing and purging proportional to what they return: the keys in UTF-8 order, for a
 * `keys` page, and the keys that have a TTL by expiry time, for the background purge.
 */
import sortedBtree from "sorted-btree";
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

// A CommonJS module whose class is `exports.default`: Node's ESM loader hands over `exports`, bundlers (vitest)
// the class itself.
const BTree: typeof sortedBtree.default =
  (sortedBtree as { default?: typeof sortedBtree.default }).default ??
  (sortedBtree as unknown as typeof sortedBtree.default);
const byExpiry = (a: [number, string], b: [number, string]) => a[0] - b[0] || compareKeys(a[1], b[1]);

export class MemoryKv implements KvBackend {
  readonly name = "memory";
  private map = new Map<string, Entry>();
  private ordered = new BTree<string, undefined>(undefined, compareKeys);
  private expiries = new BTree<[number, string], undefined>(undefined, byExpiry);
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
    const due: string[] = [];
    for (const [[at, key]] of this.expiries.entries()) {
      if (at > now) break;
      due.push(key);
    }
    for (const key of due) this.remove(key, "expire");
    return due.length;
  }

  private remove(key: string, type: "delete" | "expire") {
    const e = this.map.get(key);
    if (!e) return;
    this.map.delete(key);
    this.ordered.delete(key);
    if (e.expiresAt !== 0) this.expiries.delete([e.expiresAt, key]);
    this.hub.emit({ type, key });
  }

  /** Moves `key` in the expiry index from `from` to `to` (0 = no expiry). */
  private reindex(key: string, from: number, to: number) {
    if (from === to) return;
    if (from !== 0) this.expiries.delete([from, key]);
    if (to !== 0) this.expiries.set([to, key], undefined);
  }

  private live(key: string): Entry | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expiresAt !== 0 && e.expiresAt <= this.now()) {
      this.remove(key, "expire");
      return undefined;
    }
    return e;
  }

  private put(key: string, value: Uint8Array, expiresAt: number) {
    const old = this.map.get(key);
    if (old) this.reindex(key, old.expiresAt, expiresAt);
    else {
      this.ordered.set(key, undefined);
      if (expiresAt !== 0) this.expiries.set([expiresAt, key], undefined);
    }
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
    if (existed) this.remove(key, "delete");
    return existed;
  }

  async keys(q: KeysQuery) {
    const out: string[] = [];
    const start = q.after !== undefined && compareKeys(q.after, q.prefix) > 0 ? q.after : q.prefix;
    const now = this.now();
    // Walks the index from the first candidate; expired keys are skipped, not removed, while it iterates.
    for (const key of this.ordered.keys(start)) {
      if (!key.startsWith(q.prefix)) break;
      if (key === q.after || (q.match && !q.match(key))) continue;
      const e = this.map.get(key)!;
      if (e.expiresAt !== 0 && e.expiresAt <= now) continue;
      if (out.length === q.limit) return { keys: out, more: true };
      out.push(key);
    }
    return { keys: out, more: false };
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
    const at = this.now() + ttlMs;
    this.reindex(key, e.expiresAt, at);
    e.expiresAt = at;
    return true;
  }

  watch(prefix: string, signal: AbortSignal) {
    return this.hub.subscribe(prefix, signal);
  }

  async ping() {}

  async close() {
    clearInterval(this.timer);
    this.map.clear();
    this.ordered.clear();
    this.expiries.clear();
  }
}
