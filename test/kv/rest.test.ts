/** KV over REST (HTTP/1.1) on the memory backend: API.md's KV table, status codes and envelopes. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

let s: RunningSidecar;
beforeAll(async () => {
  s = await startSidecar({ services: { kv: "memory://" } });
});
afterAll(() => s.close());

const call = (path: string, init?: RequestInit) => fetch(s.url + path, init);
const post = (path: string, body?: unknown, headers: Record<string, string> = { "content-type": "application/json" }) =>
  call(path, {
    method: "POST",
    body: typeof body === "string" || body === undefined ? body : JSON.stringify(body),
    headers,
  });

describe("KV REST", () => {
  it("sets, gets and deletes a value", async () => {
    let r = await call("/kv/set/greeting", { method: "POST", body: "héllo" });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ key: "greeting", status: "ok" });
    r = await call("/kv/get/greeting");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await r.text()).toBe("héllo");
    r = await call("/kv/del/greeting", { method: "DELETE" });
    expect(await r.json()).toEqual({ deleted: 1, status: "ok" });
    r = await call("/kv/del/greeting", { method: "DELETE" });
    expect(await r.json()).toEqual({ deleted: 0, status: "ok" });
    r = await call("/kv/get/greeting");
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ code: "NOT_FOUND", error: "key not found: greeting", status: 404 });
  });

  it("serves binary values as octet-stream, byte for byte", async () => {
    const bytes = Uint8Array.from([0xff, 0x00, 0xfe]);
    await call("/kv/set/bin", { method: "POST", body: bytes });
    const r = await call("/kv/get/bin");
    expect(r.headers.get("content-type")).toBe("application/octet-stream");
    expect(new Uint8Array(await r.arrayBuffer())).toEqual(bytes);
  });

  it("takes keys as one percent-encoded path segment", async () => {
    await call("/kv/set/a%2Fb%20c", { method: "POST", body: "slash" });
    expect(await (await call("/kv/get/a%2Fb%20c")).text()).toBe("slash");
    expect(await (await call("/kv/keys/a%2F")).json()).toEqual({ keys: ["a/b c"], next_cursor: null });
  });

  it("handles ttl, expire and exists", async () => {
    await call("/kv/set/t1?ttl=60", { method: "POST", body: "x" });
    expect(await (await call("/kv/ttl/t1")).json()).toEqual({ ttl: 60 });
    expect(await (await call("/kv/ttl/none")).json()).toEqual({ ttl: -2 });
    expect(await (await post("/kv/expire/t1", { seconds: 5 })).json()).toEqual({ status: "ok" });
    expect(await (await call("/kv/ttl/t1")).json()).toEqual({ ttl: 5 });
    expect(await (await post("/kv/expire/none", { seconds: 5 })).json()).toEqual({ status: "key_not_found" });
    expect(await (await call("/kv/exists/t1")).json()).toEqual({ exists: true });
    expect(await (await post("/kv/expire/t1", { seconds: 0 })).json()).toEqual({ status: "ok" });
    expect(await (await call("/kv/exists/t1")).json()).toEqual({ exists: false });
  });

  it("batch-gets with null for missing keys and batch-sets atomically", async () => {
    let r = await post("/kv/set/batch", { b1: "one", b2: "two", b3: 3 });
    expect(await r.json()).toEqual({ count: 3, status: "ok" });
    r = await post("/kv/get/batch", { keys: ["b1", "b3", "missing"] });
    expect(await r.json()).toEqual({ b1: "one", b3: "3", missing: null });
  });

  it("increments by query, by body, and exactly past 2^53", async () => {
    expect(await (await post("/kv/increment/n")).json()).toEqual({ value: 1 });
    expect(await (await post("/kv/increment/n?by=9")).json()).toEqual({ value: 10 });
    expect(await (await post("/kv/increment/n", { by: -20 })).json()).toEqual({ value: -10 });
    const r = await post("/kv/increment/big", '{"by":9007199254740993}');
    expect(await r.text()).toBe('{"value":9007199254740993}');
    // The int64 ends themselves are fine.
    expect(await (await post("/kv/increment/top?by=9223372036854775807")).text()).toBe('{"value":9223372036854775807}');
    expect(await (await post("/kv/increment/bottom", '{"by":-9223372036854775808}')).text()).toBe(
      '{"value":-9223372036854775808}',
    );
  });

  it("lists keys by glob with paging", async () => {
    for (const k of ["user:1", "user:2", "user:3", "admin:1"])
      await call(`/kv/set/${k}`, { method: "POST", body: "v" });
    expect(await (await call("/kv/keys/user:*")).json()).toEqual({
      keys: ["user:1", "user:2", "user:3"],
      next_cursor: null,
    });
    const page = await (await call("/kv/keys/user:*?limit=2")).json();
    expect(page).toEqual({ keys: ["user:1", "user:2"], next_cursor: "user:2" });
    expect(await (await call("/kv/keys/user:*?limit=2&cursor=user:2")).json()).toEqual({
      keys: ["user:3"],
      next_cursor: null,
    });
  });

  it("lists keys by a glob with punctuation in it (a-* was a 500)", async () => {
    for (const k of ["a-1", "a-2", "a.b", "a_c"]) await call(`/kv/set/${k}`, { method: "POST", body: "v" });
    expect(await (await call("/kv/keys/a-*")).json()).toEqual({ keys: ["a-1", "a-2"], next_cursor: null });
    expect(await (await call("/kv/keys/a[-.]*")).json()).toEqual({ keys: ["a-1", "a-2", "a.b"], next_cursor: null });
    expect(await (await call("/kv/keys/a%5C-*")).json()).toEqual({ keys: ["a-1", "a-2"], next_cursor: null });
  });

  it("answers a many-star pattern that cannot match a long key without stalling (no regex backtracking)", async () => {
    await call(`/kv/set/${"a".repeat(1000)}`, { method: "POST", body: "v" });
    const r = await call(`/kv/keys/${"*a".repeat(12)}*b`);
    expect(await r.json()).toEqual({ keys: [], next_cursor: null });
  });

  describe("bad input gets a clear 4xx envelope", () => {
    const cases: Array<[string, () => Promise<Response>, number, string, RegExp]> = [
      [
        "negative ttl",
        () => call("/kv/set/k?ttl=-5", { method: "POST", body: "x" }),
        400,
        "BAD_REQUEST",
        /ttl must be at least 0/,
      ],
      [
        "non-numeric ttl",
        () => call("/kv/set/k?ttl=soon", { method: "POST", body: "x" }),
        400,
        "BAD_REQUEST",
        /ttl must be an integer/,
      ],
      [
        "increment of text",
        async () => (await call("/kv/set/txt", { method: "POST", body: "abc" }), post("/kv/increment/txt")),
        409,
        "CONFLICT",
        /not a 64-bit integer/,
      ],
      [
        "increment overflow",
        async () => (
          await call("/kv/set/max", { method: "POST", body: "9223372036854775807" }), post("/kv/increment/max")
        ),
        409,
        "CONFLICT",
        /overflow/,
      ],
      ["non-integer by", () => post("/kv/increment/n", { by: 1.5 }), 400, "BAD_REQUEST", /field by must be an integer/],
      ["invalid JSON", () => post("/kv/get/batch", "{nope"), 400, "BAD_REQUEST", /invalid JSON body/],
      [
        "keys not an array",
        () => post("/kv/get/batch", { keys: "a" }),
        400,
        "BAD_REQUEST",
        /field keys must be an array/,
      ],
      ["missing seconds", () => post("/kv/expire/k", {}), 400, "BAD_REQUEST", /field seconds is required/],
      [
        "JSON without content type",
        () => post("/kv/get/batch", '{"keys":[]}', { "content-type": "text/plain" }),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        /application\/json/,
      ],
      ["invalid UTF-8 in key", () => call("/kv/get/%FF%FE"), 400, "BAD_REQUEST", /UTF-8/],
      ["key over 1024 bytes", () => call(`/kv/get/${"k".repeat(2000)}`), 400, "BAD_REQUEST", /limit is 1024/],
      [
        "limit too large",
        () => call("/kv/keys/*?limit=20000"),
        400,
        "BAD_REQUEST",
        /limit must be between 1 and 10000/,
      ],
      // Beyond 64 bits, in every integer parameter of every KV row (an RPC caller cannot even send one).
      [
        "by past int64 (query)",
        () => post("/kv/increment/n64?by=9223372036854775808"),
        400,
        "BAD_REQUEST",
        /query parameter by must be a 64-bit integer/,
      ],
      [
        "by below int64 (query)",
        () => post("/kv/increment/n64?by=-9223372036854775809"),
        400,
        "BAD_REQUEST",
        /query parameter by must be a 64-bit integer/,
      ],
      [
        "by past int64 (body)",
        () => post("/kv/increment/n64", '{"by":9223372036854775808}'),
        400,
        "BAD_REQUEST",
        /field by must be a 64-bit integer/,
      ],
      [
        "by as a huge double (body)",
        () => post("/kv/increment/n64", '{"by":1e30}'),
        400,
        "BAD_REQUEST",
        /field by must be a 64-bit integer/,
      ],
      [
        "ttl past int64",
        () => call("/kv/set/k?ttl=99999999999999999999", { method: "POST", body: "x" }),
        400,
        "BAD_REQUEST",
        /query parameter ttl must be a 64-bit integer/,
      ],
      [
        "batch ttl past int64",
        () => post("/kv/set/batch?ttl=9223372036854775808", { a: "1" }),
        400,
        "BAD_REQUEST",
        /query parameter ttl must be a 64-bit integer/,
      ],
      [
        "limit past int64",
        () => call("/kv/keys/*?limit=9223372036854775808"),
        400,
        "BAD_REQUEST",
        /query parameter limit must be a 64-bit integer/,
      ],
      [
        "seconds past int64",
        () => post("/kv/expire/k", '{"seconds":-9223372036854775809}'),
        400,
        "BAD_REQUEST",
        /field seconds must be a 64-bit integer/,
      ],
    ];
    it.each(cases)("%s", async (_name, send, status, code, message) => {
      const r = await send();
      expect(r.status).toBe(status);
      const body = (await r.json()) as { error: string };
      expect(body).toMatchObject({ code, status });
      expect(body.error).toMatch(message);
    });

    it("the RPC refuses an int64 field beyond 64 bits too (protobuf's own bound), naming it", async () => {
      const r = await post("/mikcar.kv.v1.KvService/Increment", '{"key":"n64","by":"9223372036854775808"}');
      expect(r.status).toBe(400);
      expect(await r.json()).toMatchObject({
        code: "invalid_argument",
        message: expect.stringMatching(/IncrementRequest\.by .*out of range/),
      });
    });

    it("a 1 MiB key is refused with an envelope and the server keeps serving", async () => {
      const r = await call(`/kv/get/${"k".repeat(1024 * 1024)}`);
      expect(r.status).toBe(431);
      expect(await r.json()).toMatchObject({ code: "HEADERS_TOO_LARGE" });
      expect((await call("/kv/exists/x")).status).toBe(200);
    });

    it("nothing changed after refused writes", async () => {
      expect(await (await call("/kv/get/txt")).text()).toBe("abc");
      expect((await call("/kv/get/n64")).status).toBe(404);
      expect(await (await call("/kv/get/max")).text()).toBe("9223372036854775807");
    });
  });

  it("answers 405 with Allow for a wrong method and 404 for unknown routes", async () => {
    let r = await call("/kv/get/x", { method: "PUT" });
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("GET, HEAD");
    expect(await r.json()).toMatchObject({ code: "METHOD_NOT_ALLOWED" });
    r = await call("/kv/nothing/here");
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ code: "NOT_FOUND", error: "no route for GET /kv/nothing/here" });
  });
});
