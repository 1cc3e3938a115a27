/** Redis going away and coming back: 503 with a clean envelope while it is gone, recovery without a restart. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendAvailable, runId, tcpProbe } from "../helpers/backends.js";
import { startProxy, type CuttableProxy } from "../helpers/proxy.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

const available = await backendAvailable("redis", () => tcpProbe(6379));

describe.runIf(available)("KV on Redis through an outage", () => {
  let proxy: CuttableProxy;
  let s: RunningSidecar;
  beforeAll(async () => {
    proxy = await startProxy(6379);
    s = await startSidecar({
      services: { kv: `redis://:hunter2@127.0.0.1:${proxy.port}/0?prefix=${runId("outage")}:` },
    });
  });
  afterAll(async () => {
    await s?.close();
    await proxy?.close();
  });

  it("answers 503 while Redis is unreachable and recovers when it returns", async () => {
    // The password in the URL is ignored by a Redis without auth, and must never appear in an error.
    expect((await fetch(`${s.url}/kv/set/k`, { method: "POST", body: "before" })).status).toBe(200);
    proxy.cut();
    const r = await fetch(`${s.url}/kv/get/k`);
    expect(r.status).toBe(503);
    const body = await r.text();
    expect(JSON.parse(body)).toMatchObject({ code: "UNAVAILABLE", status: 503 });
    expect(body).not.toContain("hunter2");
    expect(body).not.toContain(String(proxy.port));
    const health = await fetch(`${s.url}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: "degraded", services: { kv: { status: "unavailable" } } });

    proxy.restore();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await new Promise((res) => setTimeout(res, 200));
      status = (await fetch(`${s.url}/kv/get/k`)).status;
    }
    expect(status).toBe(200);
    expect(await (await fetch(`${s.url}/kv/get/k`)).text()).toBe("before");
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });
});
