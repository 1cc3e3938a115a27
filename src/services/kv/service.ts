/**
 * The one implementation of KvService. RPC handlers and REST rows both call these methods; input validation
 * and the mapping between protobuf messages and the backend happen here and nowhere else.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { type KvService, WatchResponse_EventType as EventType } from "../../../gen/mikcar/kv/v1/kv_pb.js";
import { sidecarError } from "../../shared/errors.js";
import { untilStopping } from "../../shared/stopping.js";
import type { KvBackend, KvEventType } from "./backend.js";
import { compilePattern } from "./glob.js";

export const MAX_KEY_BYTES = 1024;
export const DEFAULT_KEYS_LIMIT = 1000;
export const MAX_KEYS_LIMIT = 10_000;
const MAX_TTL_SECONDS = 100n * 365n * 24n * 3600n;
const MAX_BATCH = 10_000;

/** Throws BAD_REQUEST unless `key` is a usable key; `field` names it in the message. */
export function checkKey(key: string, field = "key"): void {
  if (key.length === 0) throw sidecarError("BAD_REQUEST", `${field} must not be empty`);
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > MAX_KEY_BYTES)
    throw sidecarError("BAD_REQUEST", `${field} is ${bytes} bytes; the limit is ${MAX_KEY_BYTES}`);
  if (!key.isWellFormed()) throw sidecarError("BAD_REQUEST", `${field} is not valid UTF-8`);
}

/** Seconds → ms for a TTL: 0 means none, negative or absurd values are refused. */
function ttlMs(seconds: bigint, field = "ttl_seconds"): number | undefined {
  if (seconds < 0n) throw sidecarError("BAD_REQUEST", `${field} must not be negative, got ${seconds}`);
  if (seconds > MAX_TTL_SECONDS)
    throw sidecarError("BAD_REQUEST", `${field} must be at most ${MAX_TTL_SECONDS} seconds`);
  return seconds === 0n ? undefined : Number(seconds) * 1000;
}

const eventTypes: Record<KvEventType, EventType> = {
  set: EventType.SET,
  delete: EventType.DELETE,
  expire: EventType.EXPIRE,
};

export function createKvService(kv: KvBackend): ServiceImpl<typeof KvService> {
  return {
    async get(req) {
      checkKey(req.key);
      const value = await kv.get(req.key);
      if (value === undefined) throw sidecarError("NOT_FOUND", `key not found: ${req.key}`);
      return { value };
    },

    async getBatch(req) {
      if (req.keys.length > MAX_BATCH)
        throw sidecarError("BAD_REQUEST", `keys has ${req.keys.length} entries; the limit is ${MAX_BATCH}`);
      req.keys.forEach((k, i) => checkKey(k, `keys[${i}]`));
      const found = await kv.getMany(req.keys);
      const values: Record<string, Uint8Array> = {};
      req.keys.forEach((k, i) => {
        if (found[i] !== undefined) values[k] = found[i]!;
      });
      return { values };
    },

    async set(req) {
      checkKey(req.key);
      await kv.set(req.key, req.value, ttlMs(req.ttlSeconds));
      return {};
    },

    async setBatch(req) {
      const entries = Object.entries(req.values);
      if (entries.length > MAX_BATCH)
        throw sidecarError("BAD_REQUEST", `values has ${entries.length} entries; the limit is ${MAX_BATCH}`);
      for (const [k] of entries) checkKey(k, `key ${JSON.stringify(k.slice(0, 64))}`);
      await kv.setMany(entries, ttlMs(req.ttlSeconds));
      return { count: BigInt(entries.length) };
    },

    async delete(req) {
      checkKey(req.key);
      return { deleted: await kv.delete(req.key) };
    },

    async keys(req) {
      const limit = req.limit === 0 ? DEFAULT_KEYS_LIMIT : req.limit;
      if (limit < 1 || limit > MAX_KEYS_LIMIT)
        throw sidecarError("BAD_REQUEST", `limit must be between 1 and ${MAX_KEYS_LIMIT}, got ${limit}`);
      if (Buffer.byteLength(req.pattern) > MAX_KEY_BYTES)
        throw sidecarError("BAD_REQUEST", `pattern is longer than ${MAX_KEY_BYTES} bytes`);
      const { prefix, match } = compilePattern(req.pattern);
      const page = await kv.keys({
        prefix,
        match,
        after: req.cursor === "" ? undefined : req.cursor,
        limit,
      });
      return { keys: page.keys, nextCursor: page.more ? page.keys.at(-1)! : "" };
    },

    async increment(req) {
      checkKey(req.key);
      return { value: await kv.increment(req.key, req.by ?? 1n) };
    },

    async exists(req) {
      checkKey(req.key);
      return { exists: (await kv.pttl(req.key)) !== -2 };
    },

    async ttl(req) {
      checkKey(req.key);
      const ms = await kv.pttl(req.key);
      // Rounded up, so a key set with ttl=10 reports 10 right away, and never 0 while it still exists.
      return { ttl: ms < 0 ? BigInt(ms) : BigInt(Math.max(1, Math.ceil(ms / 1000))) };
    },

    async expire(req) {
      checkKey(req.key);
      if (req.seconds <= 0n) return { existed: await kv.delete(req.key) };
      return { existed: await kv.expire(req.key, ttlMs(req.seconds, "seconds")!) };
    },

    async *watch(req, ctx) {
      // Ends (cleanly) when the server stops, as well as when the client goes.
      for await (const ev of kv.watch(req.prefix, untilStopping(ctx))) {
        yield { type: eventTypes[ev.type], key: ev.key, value: ev.value };
      }
    },
  };
}
