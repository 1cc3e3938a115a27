/**
 * LMDB-backed KV (lmdb-js): the embedded default, persistent and crash-safe. Each value is stored with an
 * 8-byte expiry header; a second sub-database indexes expiries so the background purge touches only what is due.
 * Writes run in lmdb transactions, so increment and batch set are atomic even across processes sharing the file.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { open, type Database, type RootDatabase } from "lmdb";
import {
  addChecked,
  compareKeys,
  notIntegerError,
  parseStoredInteger,
  type KeysQuery,
  type KvBackend,
} from "../backend.js";
import { EventHub } from "../event-hub.js";

const HEADER = 8;

function encode(value: Uint8Array, expiresAt: number): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + value.length);
  buf.writeDoubleBE(expiresAt, 0);
  buf.set(value, HEADER);
  return buf;
}

const expiryOf = (stored: Buffer) => stored.readDoubleBE(0);
const storedValue = (stored: Buffer) =>
  new Uint8Array(stored.buffer, stored.byteOffset + HEADER, stored.length - HEADER).slice();

export interface LmdbKvOptions {
  now?: () => number;
  purgeIntervalMs?: number;
}

export class LmdbKv implements KvBackend {
  readonly name = "lmdb";
  private root: RootDatabase<Buffer, string>;
  private exp: Database<Buffer, [number, string]>;
  private hub = new EventHub();
  private now: () => number;
  private timer: NodeJS.Timeout;

  constructor(path: string, opts: LmdbKvOptions = {}) {
    mkdirSync(dirname(path), { recursive: true });
    this.root = open<Buffer, string>({ path, encoding: "binary", compression: false });
    this.exp = this.root.openDB<Buffer, [number, string]>({ name: "expiries", encoding: "binary" });
    this.now = opts.now ?? Date.now;
    this.timer = setInterval(() => void this.purge().catch(() => {}), opts.purgeIntervalMs ?? 1_000);
    this.timer.unref();
  }

  /** Deletes every key whose expiry has passed; returns how many. */
  async purge(): Promise<number> {
    const now = this.now();
    const expired: string[] = [];
    await this.root.transaction(() => {
      for (const idx of this.exp.getKeys({ end: [now, "\uffff"], snapshot: false })) {
        const [at, key] = idx as [number, string];
        const stored = this.root.get(key);
        if (stored && expiryOf(stored) === at) {
          this.root.remove(key);
          expired.push(key);
        }
        this.exp.remove(idx);
      }
    });
    for (const key of expired) this.hub.emit({ type: "expire", key });
    return expired.length;
  }

  private read(key: string): Buffer | undefined {
    const stored = this.root.get(key);
    if (!stored) return undefined;
    const at = expiryOf(stored);
    return at !== 0 && at <= this.now() ? undefined : stored;
  }

  /** Writes inside a transaction, keeping the expiry index in step with the stored header. */
  private write(key: string, value: Uint8Array, expiresAt: number) {
    const old = this.root.get(key);
    if (old && expiryOf(old) !== 0) this.exp.remove([expiryOf(old), key]);
    this.root.put(key, encode(value, expiresAt));
    if (expiresAt !== 0) this.exp.put([expiresAt, key], Buffer.alloc(1));
  }

  private removeKey(key: string) {
    const old = this.root.get(key);
    if (old && expiryOf(old) !== 0) this.exp.remove([expiryOf(old), key]);
    this.root.remove(key);
  }

  async get(key: string) {
    const s = this.read(key);
    return s && storedValue(s);
  }

  async getMany(keys: readonly string[]) {
    return keys.map((k) => {
      const s = this.read(k);
      return s && storedValue(s);
    });
  }

  async set(key: string, value: Uint8Array, ttlMs?: number) {
    const at = ttlMs ? this.now() + ttlMs : 0;
    await this.root.transaction(() => this.write(key, value, at));
    if (this.hub.active) this.hub.emit({ type: "set", key, value });
  }

  async setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>, ttlMs?: number) {
    const at = ttlMs ? this.now() + ttlMs : 0;
    await this.root.transaction(() => {
      for (const [k, v] of entries) this.write(k, v, at);
    });
    if (this.hub.active) for (const [key, value] of entries) this.hub.emit({ type: "set", key, value });
  }

  async delete(key: string) {
    const existed = await this.root.transaction(() => {
      const live = this.read(key) !== undefined;
      if (this.root.get(key)) this.removeKey(key);
      return live;
    });
    if (existed) this.hub.emit({ type: "delete", key });
    return existed;
  }

  async keys(q: KeysQuery) {
    const out: string[] = [];
    const start = q.after !== undefined && compareKeys(q.after, q.prefix) > 0 ? q.after : q.prefix;
    // lmdb orders string keys by their UTF-8 bytes, the order the API promises.
    for (const key of this.root.getKeys({ start, snapshot: false })) {
      if (!key.startsWith(q.prefix)) break;
      if (key === q.after) continue;
      if (q.match && !q.match(key)) continue;
      if (!this.read(key)) continue;
      if (out.length === q.limit) return { keys: out, more: true };
      out.push(key);
    }
    return { keys: out, more: false };
  }

  async increment(key: string, by: bigint) {
    const { next, value } = await this.root.transaction(() => {
      const s = this.read(key);
      const current = s ? parseStoredInteger(storedValue(s)) : 0n;
      if (current === undefined) throw notIntegerError(key);
      const next = addChecked(key, current, by);
      const value = Buffer.from(next.toString());
      this.write(key, value, s ? expiryOf(s) : 0);
      return { next, value };
    });
    if (this.hub.active) this.hub.emit({ type: "set", key, value });
    return next;
  }

  async pttl(key: string) {
    const s = this.read(key);
    if (!s) return -2;
    const at = expiryOf(s);
    return at === 0 ? -1 : at - this.now();
  }

  async expire(key: string, ttlMs: number) {
    return this.root.transaction(() => {
      const s = this.read(key);
      if (!s) return false;
      this.write(key, storedValue(s), this.now() + ttlMs);
      return true;
    });
  }

  watch(prefix: string, signal: AbortSignal) {
    return this.hub.subscribe(prefix, signal);
  }

  async ping() {
    this.root.getStats();
  }

  async close() {
    clearInterval(this.timer);
    await this.root.close();
  }
}
