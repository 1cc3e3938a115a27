/** KV over REST (HTTP/1.1) on the memory backend: API.md's KV table, status codes and envelopes. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

let s: RunningSidecar;
beforeAll(async () => {
  s = await startSidecar({ services: { kv: "memory://" } });
});
afterAll(() => s.close());

const call = (path: string, init?: RequestInit) => fetch(s.url + path, init);
const json = { "content-type": "application/json" };

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
    r = await call("/kv/get/greeting");
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ code: "NOT_FOUND", error: "key not found: greeting", status: 404 });
  });
});
