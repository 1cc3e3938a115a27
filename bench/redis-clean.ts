/** Removes every key under `prefix` from a shared Redis with SCAN + UNLINK (never KEYS, which blocks Redis). */
import { Redis } from "ioredis";

export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url);
  try {
    const stream = r.scanStream({ match: `${prefix}*`, count: 10_000 });
    for await (const keys of stream as AsyncIterable<string[]>) if (keys.length > 0) await r.unlink(...keys);
  } finally {
    r.disconnect();
  }
}
