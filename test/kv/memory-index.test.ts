/**
 * The memory backend's indexes: a `keys` page and the purge walk ordered indexes instead of every key, so they
 * must follow every change of a key's existence and expiry (set over a TTL, expire, delete, purge).
 */
import { expect, it } from "vitest";
import { MemoryKv } from "../../src/services/kv/backends/memory.js";

const v = new Uint8Array([1]);

it("purges exactly the keys whose current expiry passed", async () => {
  let now = 1_000;
  const kv = new MemoryKv({ now: () => now, purgeIntervalMs: 3_600_000 });
  await kv.set("keep-no-ttl", v, 10);
  await kv.set("keep-no-ttl", v); // TTL dropped by a plain set
  await kv.set("extended", v, 10);
  await kv.expire("extended", 60_000);
  await kv.set("deleted", v, 10);
  await kv.delete("deleted");
  await kv.set("due", v, 10);
  now += 20;
  expect(kv.purge()).toBe(1);
  expect((await kv.keys({ prefix: "", match: null, limit: 10 })).keys).toEqual(["extended", "keep-no-ttl"]);
  now += 60_000;
  expect(kv.purge()).toBe(1);
  expect(kv.purge()).toBe(0);
  expect((await kv.keys({ prefix: "", match: null, limit: 10 })).keys).toEqual(["keep-no-ttl"]);
  await kv.close();
});

it("pages through a prefix in UTF-8 order from the cursor, skipping expired keys", async () => {
  let now = 0;
  const kv = new MemoryKv({ now: () => now, purgeIntervalMs: 3_600_000 });
  for (const k of ["a/3", "a/1", "b/1", "a/😀", "a/\uffff", "a/2", "a"]) await kv.set(k, v);
  await kv.set("a/2", v, 5);
  now = 10;
  expect(await kv.keys({ prefix: "a/", match: null, limit: 2 })).toEqual({ keys: ["a/1", "a/3"], more: true });
  expect(await kv.keys({ prefix: "a/", match: null, after: "a/3", limit: 2 })).toEqual({
    keys: ["a/\uffff", "a/😀"],
    more: false,
  });
  await kv.close();
});
