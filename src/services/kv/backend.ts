/**
 * The KV backend interface. Backends store bytes under string keys with an optional absolute expiry and give
 * identical semantics (checked by one contract suite). Validation lives in the service, not here.
 */
import { sidecarError } from "../../shared/errors.js";
import { compareUtf8 } from "../../shared/utf8-order.js";

export type KvEventType = "set" | "delete" | "expire";

export interface KvEvent {
  type: KvEventType;
  key: string;
  /** The new value, for "set". */
  value?: Uint8Array;
}

export interface KeysQuery {
  /** Only keys starting with this can match (the literal head of the pattern). */
  prefix: string;
  /** Full-key test; null means every key with the prefix. */
  match: ((key: string) => boolean) | null;
  /** Return keys strictly after this one, in UTF-8 byte order. */
  after?: string;
  limit: number;
}

export interface KvBackend {
  /** Short name shown in health and logs: "memory", "lmdb", "redis". */
  readonly name: string;
  get(key: string): Promise<Uint8Array | undefined>;
  getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>>;
  /** `ttlMs` > 0 sets an expiry; undefined clears any previous one. */
  set(key: string, value: Uint8Array, ttlMs?: number): Promise<void>;
  /** All entries or none. */
  setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Sorted by UTF-8 bytes; `more` is true when keys beyond `limit` exist. */
  keys(q: KeysQuery): Promise<{ keys: string[]; more: boolean }>;
  /**
   * Adds `by` atomically, keeping any expiry; a missing key starts at 0. Throws CONFLICT when the value is not
   * a 64-bit integer in Redis's canonical form or the result overflows.
   */
  increment(key: string, by: bigint): Promise<bigint>;
  /** Milliseconds left: -1 no expiry, -2 missing or expired. */
  pttl(key: string): Promise<number>;
  /** Sets an expiry on an existing key; returns false when the key is missing. */
  expire(key: string, ttlMs: number): Promise<boolean>;
  /** Changes to keys starting with `prefix`, until `signal` aborts. */
  watch(prefix: string, signal: AbortSignal): AsyncIterable<KvEvent>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Redis's integer syntax: optional minus, no leading zeros or spaces, within signed 64 bits. */
const INTEGER = /^-?(0|[1-9][0-9]{0,18})$/;
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** The integer a stored value holds, or undefined when it is not one (the shared rule for non-Redis backends). */
export function parseStoredInteger(value: Uint8Array): bigint | undefined {
  if (value.length === 0 || value.length > 20) return undefined;
  const text = Buffer.from(value).toString("latin1");
  if (!INTEGER.test(text) || text === "-0") return undefined;
  const n = BigInt(text);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

/** Compares keys in UTF-8 byte order, the order every backend lists keys in. */
export const compareKeys: (a: string, b: string) => number = compareUtf8;

export function notIntegerError(key: string) {
  return sidecarError("CONFLICT", `value of key ${JSON.stringify(key)} is not a 64-bit integer`);
}

export function overflowError(key: string) {
  return sidecarError("CONFLICT", `incrementing key ${JSON.stringify(key)} would overflow a 64-bit integer`);
}

/** The checked sum for increment, shared by backends that do the arithmetic themselves. */
export function addChecked(key: string, current: bigint, by: bigint): bigint {
  const next = current + by;
  if (next < INT64_MIN || next > INT64_MAX) throw overflowError(key);
  return next;
}
