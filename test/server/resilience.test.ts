/**
 * Resilience toward a real Redis cut through the test proxy: retries absorb a blip for idempotent calls while a
 * non-idempotent call under the same blip fails; the breaker opens (metric, /health/ready, grpc.health.v1 say
 * so), fails fast with 503 + Retry-After naming the backend but not its address, half-opens and closes when
 * Redis returns.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/health/v1/health_pb.js";
import { backendAvailable, runId, tcpProbe } from "../helpers/backends.js";
import { type CuttableProxy, startProxy } from "../helpers/proxy.js";
import { type RunningSidecar, startSidecar } from "../helpers/sidecar.js";

const available = await backendAvailable("redis", () => tcpProbe(6379));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function gauge(admin: string, name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(" ").pop());
}

describe.runIf(available)("retries through a Redis blip", () => {
  let proxy: CuttableProxy;
  let s: RunningSidecar;
  beforeAll(async () => {
    proxy = await startProxy(6379);
    s = await startSidecar({
      services: { kv: `redis://127.0.0.1:${proxy.port}/0?prefix=${runId("blip")}:` },
      // Enough retries, spaced enough, to outlast a cut of ~150 ms plus ioredis's reconnect delay.
      serviceOptions: { kv: { retries: 8, "retry-delay": "100ms", "retry-max-delay": "400ms", "breaker-failures": 0 } },
    });
    expect((await fetch(`${s.url}/kv/set/k`, { method: "POST", body: "before" })).status).toBe(200);
  });
  afterAll(async () => {
    await s?.close();
    await proxy?.close();
  });

  it("GETs under load during a short cut are retried until Redis answers", async () => {
    proxy.cut();
    const pending = Array.from({ length: 20 }, () => fetch(`${s.url}/kv/get/k`));
    setTimeout(() => proxy.restore(), 150);
    const answers = await Promise.all(pending);
    expect(answers.map((r) => r.status)).toEqual(new Array(20).fill(200));
    expect(await answers[0]!.text()).toBe("before");
  });

  it("an increment during the same kind of cut is not retried: 503 at once", async () => {
    // Wait until the connection is back from the previous test.
    for (let i = 0; i < 50 && (await fetch(`${s.url}/kv/get/k`)).status !== 200; i++) await sleep(100);
    proxy.cut();
    const pending = fetch(`${s.url}/kv/increment/n`, { method: "POST" });
    setTimeout(() => proxy.restore(), 150);
    const r = await pending;
    expect(r.status).toBe(503);
    expect((await r.json()).code).toBe("UNAVAILABLE");
  });
});

describe.runIf(available)("circuit breaker on a Redis outage", () => {
  let proxy: CuttableProxy;
  let s: RunningSidecar;
  beforeAll(async () => {
    proxy = await startProxy(6379);
    s = await startSidecar(
      {
        services: { kv: `redis://127.0.0.1:${proxy.port}/0?prefix=${runId("breaker")}:` },
        serviceOptions: { kv: { retries: 0, "breaker-failures": 3, "breaker-half-open": "1s" } },
      },
      { admin: true },
    );
    expect((await fetch(`${s.url}/kv/set/k`, { method: "POST", body: "v" })).status).toBe(200);
  });
  afterAll(async () => {
    await s?.close();
    await proxy?.close();
  });

  it("opens, fails fast, reports it everywhere, then half-opens and closes when Redis returns", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: s.url }));
    expect((await health.check({ service: "mikcar.kv.v1.KvService" })).status).toBe(Status.SERVING);
    expect(await gauge(s.admin!, "mikcar_circuit_state", 'service="kv",backend="redis"')).toBe(0);

    proxy.cut();
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${s.url}/kv/get/k`);
      expect(r.status).toBe(503);
      expect((await r.json()).error).toBe("redis is unavailable; retry later");
    }
    const refused = await fetch(`${s.url}/kv/get/k`);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = await refused.text();
    expect(JSON.parse(body)).toMatchObject({ code: "UNAVAILABLE", backend: "redis", breaker: "open" });
    expect(body).toContain("kv backend redis is unavailable: its circuit breaker is open");
    expect(body).not.toContain(String(proxy.port));
    expect(body).not.toContain("127.0.0.1");

    expect(await gauge(s.admin!, "mikcar_circuit_state", 'service="kv",backend="redis"')).toBe(2);
    expect(await gauge(s.admin!, "mikcar_backend_calls_total", 'service="kv",backend="redis",outcome="rejected"')).toBe(
      1,
    );
    const ready = await fetch(`${s.admin}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: "degraded", services: { kv: { breaker: "open" } } });
    expect((await health.check({ service: "mikcar.kv.v1.KvService" })).status).toBe(Status.NOT_SERVING);

    // Redis comes back while the breaker is still open: readiness waits for the breaker.
    proxy.restore();
    let status = 0;
    for (let i = 0; i < 60 && status !== 200; i++) {
      await sleep(200);
      status = (await fetch(`${s.url}/kv/get/k`)).status;
    }
    expect(status).toBe(200);
    expect(await gauge(s.admin!, "mikcar_circuit_state", 'service="kv",backend="redis"')).toBe(0);
    expect((await fetch(`${s.admin}/health/ready`)).status).toBe(200);
    expect((await health.check({ service: "mikcar.kv.v1.KvService" })).status).toBe(Status.SERVING);
  });
});
