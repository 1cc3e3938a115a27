/** KV backends by URL scheme, imported lazily so `memory://` never loads lmdb or ioredis. */
import { filePath, schemeOf, unsupportedScheme } from "../../shared/url.js";
import type { KvBackend } from "./backend.js";

export const KV_SCHEMES = ["memory", "file", "lmdb", "redb", "redis", "rediss"] as const;

/** Opens the backend a URL names. `file://`, `lmdb://` and (mikcar's) `redb://` all mean an lmdb file. */
export async function openKvBackend(url: string): Promise<KvBackend> {
  switch (schemeOf(url)) {
    case "memory":
      return new (await import("./backends/memory.js")).MemoryKv();
    case "file":
    case "lmdb":
    case "redb":
      return new (await import("./backends/lmdb.js")).LmdbKv(filePath(url));
    case "redis":
    case "rediss":
      return (await import("./backends/redis.js")).RedisKv.open(url);
    default:
      throw unsupportedScheme("KV", url, KV_SCHEMES);
  }
}
