/**
 * Redis connection settings shared by every Redis-backed service (kv, queue): URL parsing, fail-fast behaviour
 * while disconnected, and the translation of connection errors into UNAVAILABLE.
 */
import type { Redis, RedisOptions } from "ioredis";
import { sidecarError, SidecarError } from "./errors.js";

export interface RedisTarget {
  options: RedisOptions;
  /** Namespace prepended to every key this sidecar touches (`?prefix=`), so tenants and test runs stay apart. */
  prefix: string;
  db: number;
}

/** `redis://[user:pass@]host[:port][/db][?prefix=...]`, `rediss://` for TLS. */
export function parseRedisUrl(raw: string): RedisTarget {
  const u = new URL(raw);
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw new Error(`not a redis URL: ${u.protocol}`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new Error(`redis database must be a non-negative integer, got ${u.pathname.slice(1)}`);
  return {
    db,
    prefix: u.searchParams.get("prefix") ?? "",
    options: {
      host: u.hostname || "127.0.0.1",
      port: u.port ? Number(u.port) : 6379,
      username: u.username ? decodeURIComponent(u.username) : undefined,
      password: u.password ? decodeURIComponent(u.password) : undefined,
      db,
      tls: u.protocol === "rediss:" ? {} : undefined,
      // Fail fast while Redis is away (the client gets 503 at once) and keep reconnecting in the background.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 5_000,
      connectTimeout: 5_000,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
      lazyConnect: true,
    },
  };
}

/** Connects, but does not fail start-up when Redis is down: requests get 503 until it is back. */
export async function connectRedis(client: Redis, timeoutMs = 3_000): Promise<void> {
  client.on("error", () => {}); // reported per request; without a listener ioredis logs to stderr
  await Promise.race([client.connect().catch(() => {}), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
}

const CONNECTION_ERRORS =
  /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Command timed out|MaxRetriesPerRequest|connect ETIMEDOUT|ENOTFOUND|EHOSTUNREACH/i;

/** Connection-level failures become UNAVAILABLE; catalogue errors pass through; anything else is rethrown. */
export function mapRedisError(err: unknown): never {
  if (err instanceof SidecarError) throw err;
  const msg = err instanceof Error ? err.message : String(err);
  if (CONNECTION_ERRORS.test(msg) || (err as { name?: string })?.name === "MaxRetriesPerRequestError") {
    throw sidecarError("UNAVAILABLE", "redis is unavailable; retry later", {}, err);
  }
  if (/^NOAUTH|^WRONGPASS/.test(msg)) throw sidecarError("UNAVAILABLE", "redis refused the credentials", {}, err);
  throw err;
}

/** Escapes glob characters so a literal string can sit inside a SCAN MATCH or PSUBSCRIBE pattern. */
export function escapeRedisGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, "\\$&");
}
