/** KV contract — TTLs, with the same semantics on every backend. */
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import * as pb from "../../../gen/mikcar/kv/v1/kv_pb.js";
import { code, ctx, enc, sleep, type KvSuite } from "./suite.js";

export function describeTtl(s: KvSuite) {
  const { key, get, set, ttl, exists, keys, passTime } = s;
  describe("ttl", () => {
    it("reports -2 for missing, -1 for no expiry, seconds left otherwise", async () => {
      const k = key("ttl");
      expect(await ttl(k)).toBe(-2n);
      await set(k, "v");
      expect(await ttl(k)).toBe(-1n);
      await set(k, "v", 100n);
      expect(await ttl(k)).toBe(100n);
      await set(k, "v"); // a plain set clears the expiry
      expect(await ttl(k)).toBe(-1n);
    });

    it("expires keys: get, exists and keys stop seeing them", async () => {
      const k = key("exp");
      await set(k, "v", 1n);
      await passTime(1_100);
      expect(await code(get(k))).toBe(Code.NotFound);
      expect(await exists(k)).toBe(false);
      expect(await ttl(k)).toBe(-2n);
      expect((await keys(k)).keys).toEqual([]);
    });

    it("expire sets, and seconds <= 0 deletes; missing keys report existed=false", async () => {
      const k = key("expire");
      const expire = (seconds: bigint, kk = k) =>
        s.kv.expire(create(pb.ExpireRequestSchema, { key: kk, seconds }), ctx());
      expect((await expire(10n, key("nope"))).existed).toBe(false);
      await set(k, "v");
      expect((await expire(50n)).existed).toBe(true);
      expect(await ttl(k)).toBe(50n);
      expect((await expire(0n)).existed).toBe(true);
      expect(await exists(k)).toBe(false);
    });

    it("batch set applies the TTL to every key", async () => {
      const [a, b] = [key("bt1"), key("bt2")];
      await s.kv.setBatch(
        create(pb.SetBatchRequestSchema, { values: { [a]: enc("1"), [b]: enc("2") }, ttlSeconds: 30n }),
        ctx(),
      );
      expect(await ttl(a)).toBe(30n);
      expect(await ttl(b)).toBe(30n);
    });

    it("purges expired keys in the background and reports them to watchers", async () => {
      const prefix = key("purge");
      const ac = new AbortController();
      const events: string[] = [];
      const watching = (async () => {
        for await (const ev of s.kv.watch(create(pb.WatchRequestSchema, { prefix }), { ...ctx(), signal: ac.signal })) {
          events.push(`${ev.type}:${ev.key}`);
          if (ev.type === pb.WatchResponse_EventType.EXPIRE) break;
        }
      })();
      await sleep(100); // let the watch subscribe
      await set(prefix + "/a", "v", 1n);
      await passTime(1_100);
      await s.t.purge?.();
      await Promise.race([watching, sleep(5_000)]);
      ac.abort();
      expect(events).toEqual([
        `${pb.WatchResponse_EventType.SET}:${prefix}/a`,
        `${pb.WatchResponse_EventType.EXPIRE}:${prefix}/a`,
      ]);
    });
  });
}
