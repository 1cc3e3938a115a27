/**
 * The KV contract: one behaviour suite that every backend must pass, driven through the service
 * implementation (the same code REST and RPC call). Backend differences are passed as quirks, never as
 * `if (name === …)`.
 */
import { create } from "@bufbuild/protobuf";
import { createHandlerContext, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { ConnectError, Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pb from "../../gen/mikcar/kv/v1/kv_pb.js";
import type { KvBackend } from "../../src/services/kv/backend.js";
import { createKvService } from "../../src/services/kv/service.js";

export interface KvTarget {
  backend: KvBackend;
  /** Moves the backend's clock forward; absent for backends on real time (then the suite sleeps). */
  advance?: (ms: number) => void;
  /** Runs the background purge now, if the backend has one the test can trigger. */
  purge?: () => Promise<unknown> | unknown;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ctx(): HandlerContext {
  return createHandlerContext({
    service: pb.KvService,
    method: pb.KvService.method.get,
    protocolName: "test",
    requestMethod: "POST",
    url: "/",
  });
}

async function code(p: Promise<unknown> | unknown): Promise<Code | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

export function describeKvContract(name: string, open: () => Promise<KvTarget>) {
  describe(`KV contract: ${name}`, () => {
    let t: KvTarget;
    let kv: ServiceImpl<typeof pb.KvService>;
    let n = 0;
    // Every test uses fresh keys, so suites can share a server (and run again) without clean-up races.
    const key = (s: string) => `c${++n}:${s}`;
    const passTime = async (ms: number) => {
      if (t.advance) t.advance(ms);
      else await sleep(ms);
    };

    beforeAll(async () => {
      t = await open();
      kv = createKvService(t.backend);
    });
    afterAll(() => t.backend.close());

    const get = (k: string) => kv.get(create(pb.GetRequestSchema, { key: k }), ctx()) as Promise<{ value: Uint8Array }>;
    const set = (k: string, v: string | Uint8Array, ttlSeconds = 0n) =>
      kv.set(create(pb.SetRequestSchema, { key: k, value: typeof v === "string" ? enc(v) : v, ttlSeconds }), ctx());
    const ttl = async (k: string) => (await kv.ttl(create(pb.TtlRequestSchema, { key: k }), ctx())).ttl;
    const exists = async (k: string) => (await kv.exists(create(pb.ExistsRequestSchema, { key: k }), ctx())).exists;
    const incr = async (k: string, by?: bigint) =>
      (await kv.increment(create(pb.IncrementRequestSchema, { key: k, by }), ctx())).value;
    const keys = async (pattern: string, limit = 0, cursor = "") =>
      kv.keys(create(pb.KeysRequestSchema, { pattern, limit, cursor }), ctx()) as Promise<{
        keys: string[];
        nextCursor: string;
      }>;

    describe("values", () => {
      it("round-trips arbitrary bytes, including empty and non-UTF-8", async () => {
        const k = key("bytes");
        const bytes = Uint8Array.from([0, 255, 254, 10, 0x80]);
        await set(k, bytes);
        expect(Uint8Array.from((await get(k)).value)).toEqual(bytes);
        await set(k, new Uint8Array());
        expect(Uint8Array.from((await get(k)).value)).toEqual(new Uint8Array());
        expect(await exists(k)).toBe(true);
      });

      it("overwrites and reports missing keys as NOT_FOUND", async () => {
        const k = key("over");
        await set(k, "one");
        await set(k, "two");
        expect(dec((await get(k)).value)).toBe("two");
        expect(await code(get(key("missing")))).toBe(Code.NotFound);
      });

      it("keeps unicode keys apart and intact", async () => {
        const a = key("ключ/💡"),
          b = key("ключ/💡x");
        await set(a, "A");
        await set(b, "B");
        expect(dec((await get(a)).value)).toBe("A");
        expect(dec((await get(b)).value)).toBe("B");
      });

      it("deletes, reporting whether the key existed", async () => {
        const k = key("del");
        await set(k, "x");
        expect((await kv.delete(create(pb.DeleteRequestSchema, { key: k }), ctx())).deleted).toBe(true);
        expect((await kv.delete(create(pb.DeleteRequestSchema, { key: k }), ctx())).deleted).toBe(false);
        expect(await exists(k)).toBe(false);
      });

      it("batch-gets present keys only and batch-sets all", async () => {
        const [a, b, c] = [key("ba"), key("bb"), key("bc")];
        const res = await kv.setBatch(
          create(pb.SetBatchRequestSchema, { values: { [a]: enc("1"), [b]: enc("2") } }),
          ctx(),
        );
        expect(res.count).toBe(2n);
        const got = await kv.getBatch(create(pb.GetBatchRequestSchema, { keys: [a, b, c] }), ctx());
        expect(Object.keys(got.values ?? {}).sort()).toEqual([a, b].sort());
        expect(dec(got.values![b])).toBe("2");
      });

      it("refuses bad keys with INVALID_ARGUMENT", async () => {
        expect(await code(get(""))).toBe(Code.InvalidArgument);
        expect(await code(get("k".repeat(1025)))).toBe(Code.InvalidArgument);
        expect(await code(set("\ud800lone", "x"))).toBe(Code.InvalidArgument);
        expect(await code(set(key("neg"), "x", -1n))).toBe(Code.InvalidArgument);
      });
    });

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
          kv.expire(create(pb.ExpireRequestSchema, { key: kk, seconds }), ctx());
        expect((await expire(10n, key("nope"))).existed).toBe(false);
        await set(k, "v");
        expect((await expire(50n)).existed).toBe(true);
        expect(await ttl(k)).toBe(50n);
        expect((await expire(0n)).existed).toBe(true);
        expect(await exists(k)).toBe(false);
      });

      it("batch set applies the TTL to every key", async () => {
        const [a, b] = [key("bt1"), key("bt2")];
        await kv.setBatch(
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
          for await (const ev of kv.watch(create(pb.WatchRequestSchema, { prefix }), { ...ctx(), signal: ac.signal })) {
            events.push(`${ev.type}:${ev.key}`);
            if (ev.type === pb.WatchResponse_EventType.EXPIRE) break;
          }
        })();
        await sleep(100); // let the watch subscribe
        await set(prefix + "/a", "v", 1n);
        await passTime(1_100);
        await t.purge?.();
        await Promise.race([watching, sleep(5_000)]);
        ac.abort();
        expect(events).toEqual([
          `${pb.WatchResponse_EventType.SET}:${prefix}/a`,
          `${pb.WatchResponse_EventType.EXPIRE}:${prefix}/a`,
        ]);
      });
    });

    describe("increment", () => {
      it("starts missing keys at 0, adds steps, and stores the number as text", async () => {
        const k = key("inc");
        expect(await incr(k)).toBe(1n);
        expect(await incr(k, 41n)).toBe(42n);
        expect(await incr(k, -50n)).toBe(-8n);
        expect(await incr(k, 0n)).toBe(-8n);
        expect(dec((await get(k)).value)).toBe("-8");
      });

      it("is exact at 64 bits and refuses overflow without changing the value", async () => {
        const k = key("big");
        await set(k, "9223372036854775806");
        expect(await incr(k)).toBe(9223372036854775807n);
        expect(await code(incr(k))).toBe(Code.FailedPrecondition);
        expect(dec((await get(k)).value)).toBe("9223372036854775807");
      });

      it("refuses non-integer values with FAILED_PRECONDITION (409 over REST)", async () => {
        for (const v of ["abc", "1.5", " 1", "01", ""]) {
          const k = key("nan");
          await set(k, v);
          expect(await code(incr(k)), `value ${JSON.stringify(v)}`).toBe(Code.FailedPrecondition);
          expect(dec((await get(k)).value)).toBe(v);
        }
      });

      it("keeps an existing TTL", async () => {
        const k = key("incttl");
        await set(k, "5", 60n);
        await incr(k);
        expect(await ttl(k)).toBe(60n);
      });

      it("is atomic under concurrency", async () => {
        const k = key("race");
        await Promise.all(Array.from({ length: 200 }, () => incr(k)));
        expect(dec((await get(k)).value)).toBe("200");
      });
    });

    describe("keys", () => {
      let base: string;
      beforeAll(async () => {
        base = key("ks");
        for (const s of ["a", "b", "ab", "a/b", "c*d", "h1llo", "hallo", "hxllo", "[x]"])
          await set(`${base}/${s}`, "v");
      });
      const list = async (p: string) => (await keys(`${base}/${p}`)).keys.map((k) => k.slice(base.length + 1));

      it("treats a pattern without glob characters as a prefix, sorted", async () => {
        expect(await list("a")).toEqual(["a", "a/b", "ab"]);
      });

      it("supports *, ?, classes, ranges, negation and escapes like Redis", async () => {
        expect(await list("*")).toEqual(["[x]", "a", "a/b", "ab", "b", "c*d", "h1llo", "hallo", "hxllo"]);
        expect(await list("h?llo")).toEqual(["h1llo", "hallo", "hxllo"]);
        expect(await list("h[ax]llo")).toEqual(["hallo", "hxllo"]);
        expect(await list("h[^a]llo")).toEqual(["h1llo", "hxllo"]);
        expect(await list("h[0-9]llo")).toEqual(["h1llo"]);
        expect(await list("c\\*d")).toEqual(["c*d"]);
        expect(await list("\\[x\\]")).toEqual(["[x]"]);
        expect(await list("*b")).toEqual(["a/b", "ab", "b"]);
      });

      it("takes every printable ASCII character in a pattern, literal and escaped", async () => {
        const ascii = key("ascii");
        const chars = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));
        const names = chars.flatMap((c) => [c, `a${c}`, `a${c}z`]);
        await kv.setBatch(
          create(pb.SetBatchRequestSchema, {
            values: Object.fromEntries(names.map((s) => [`${ascii}/${s}`, enc("v")])),
          }),
          ctx(),
        );
        const all = (await keys(`${ascii}/*`, 10_000)).keys.map((k) => k.slice(ascii.length + 1));
        expect([...all].sort()).toEqual([...new Set(names)].sort());
        const glob = async (p: string) =>
          (await keys(`${ascii}/${p}`, 10_000)).keys.map((k) => k.slice(ascii.length + 1));
        const startingWith = (s: string) => all.filter((k) => k.startsWith(s));
        for (const c of chars) {
          const esc = `\\${c}`;
          const what = `character ${JSON.stringify(c)}`;
          expect(await glob(`a${esc}*`), what).toEqual(startingWith(`a${c}`));
          expect(await glob(esc), what).toEqual([c]);
          expect(await glob(`[${esc}]`), what).toEqual([c]);
          expect(await glob(`?${esc}`), what).toEqual([`a${c}`]);
          if ("*?[\\".includes(c)) continue;
          // Without glob meaning a character stands for itself, `-` included (`a-*` was a 500).
          expect(await glob(`a${c}*`), what).toEqual(startingWith(`a${c}`));
          expect(await glob(`*${c}z`), what).toEqual(all.filter((k) => k.endsWith(`${c}z`)));
          if (c !== "]" && c !== "^") expect(await glob(`[${c}]`), what).toEqual([c]);
        }
        // The glob characters themselves, as Redis reads them.
        expect(await glob("a**")).toEqual(startingWith("a"));
        expect(await glob("a?*")).toEqual(startingWith("a").filter((k) => k !== "a"));
        expect(await glob("a[*")).toEqual(["a*"]); // an unclosed set takes the rest of the pattern
        expect(await glob("a\\")).toEqual(["a\\"]); // a trailing backslash is itself
        expect(await glob("[]]")).toEqual([]); // "[]" is an empty set
        expect(await glob("a[^]")).toEqual(startingWith("a").filter((k) => k.length === 2));
        expect(await glob("[z-x]")).toEqual(["x", "y", "z"]); // range ends in either order
      });

      it("pages with limit and cursor without gaps or repeats", async () => {
        const seen: string[] = [];
        let cursor = "";
        for (let i = 0; i < 10; i++) {
          const page = await keys(`${base}/*`, 2, cursor);
          seen.push(...page.keys);
          if (!page.nextCursor) break;
          expect(page.keys).toHaveLength(2);
          cursor = page.nextCursor;
        }
        expect(seen.map((k) => k.slice(base.length + 1))).toEqual(await list("*"));
      });

      it("refuses limits out of range", async () => {
        expect(await code(keys("*", 10_001))).toBe(Code.InvalidArgument);
        expect(await code(keys("*", -1))).toBe(Code.InvalidArgument);
      });
    });

    describe("watch", () => {
      it("streams sets and deletes under the prefix, in order, and nothing else", async () => {
        const prefix = key("w");
        const ac = new AbortController();
        const events: Array<{ type: number; key: string; value: string }> = [];
        const done = (async () => {
          for await (const ev of kv.watch(create(pb.WatchRequestSchema, { prefix }), { ...ctx(), signal: ac.signal })) {
            events.push({ type: ev.type!, key: ev.key!, value: dec(ev.value as Uint8Array) });
            if (events.length === 3) break;
          }
        })();
        await sleep(100);
        await set(key("other"), "ignored");
        await set(prefix + "/1", "v1");
        await incr(prefix + "/n");
        await kv.delete(create(pb.DeleteRequestSchema, { key: prefix + "/1" }), ctx());
        await Promise.race([done, sleep(5_000)]);
        ac.abort();
        const E = pb.WatchResponse_EventType;
        expect(events).toEqual([
          { type: E.SET, key: prefix + "/1", value: "v1" },
          { type: E.SET, key: prefix + "/n", value: "1" },
          { type: E.DELETE, key: prefix + "/1", value: "" },
        ]);
      });
    });
  });
}
