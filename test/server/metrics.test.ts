/**
 * The admin listener and its metrics after known traffic: exact counts per service/method/protocol/code,
 * histogram buckets, bounded labels, the policy hooks, and the exposition accepted by `promtool check metrics`.
 */
import { spawnSync } from "node:child_process";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvService } from "../../gen/mikcar/kv/v1/kv_pb.js";
import { backendAvailable } from "../helpers/backends.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

const havePromtool = await backendAvailable("promtool", async () => {
  const r = spawnSync("promtool", ["--version"]);
  if (r.error) throw r.error;
});

let s: RunningSidecar;
beforeAll(async () => {
  s = await startSidecar({ services: { kv: "memory://", queue: "memory://" } }, { admin: true });
});
afterAll(() => s?.close());

/** The value of one sample line of the exposition, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.indexOf("}"));
    const parts = inner.split(",");
    if (want.every((w) => parts.includes(w)) && parts.length === want.length) return Number(line.split(" ").pop());
  }
  return undefined;
}

const metrics = async () => {
  const r = await fetch(`${s.admin}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toContain("text/plain");
  return r.text();
};

describe("admin listener", () => {
  it("serves liveness, readiness, stats and metrics without a token, and only there", async () => {
    expect(await (await fetch(`${s.admin}/health/live`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${s.admin}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: "ok",
      services: { kv: { backend: "memory", status: "ok", breaker: "closed" } },
    });
    expect((await fetch(`${s.admin}/stats`)).headers.get("content-type")).toContain("text/html");
    expect(await (await fetch(`${s.admin}/stats.json`)).json()).toHaveProperty("methods");
    expect((await fetch(`${s.url}/metrics`)).status).toBe(404);
    const wrong = await fetch(`${s.admin}/nope`);
    expect(wrong.status).toBe(404);
    expect((await wrong.json()).error).toContain("/metrics");
    expect((await fetch(`${s.admin}/metrics`, { method: "POST" })).status).toBe(405);
  });
});

describe("metrics after known traffic", () => {
  let text: string;
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) await fetch(`${s.url}/kv/set/m-key-${i}`, { method: "POST", body: "v" });
    for (let i = 0; i < 3; i++) await (await fetch(`${s.url}/kv/get/m-key-0`)).text();
    await (await fetch(`${s.url}/kv/get/secret-looking-key`)).text(); // 404
    const connect = createClient(KvService, createConnectTransport({ baseUrl: s.url, httpVersion: "1.1" }));
    await connect.get({ key: "m-key-1" });
    await connect.get({ key: "m-key-1" });
    const grpc = createClient(KvService, createGrpcTransport({ baseUrl: s.url }));
    await expect(grpc.get({ key: "absent" })).rejects.toThrow();
    // queue: a message acked, one nacked back and received again (redelivered), then dead-lettered
    const push = (q: string) =>
      fetch(`${s.url}/queue/push/${q}`, {
        method: "POST",
        body: '{"a":1}',
        headers: { "content-type": "application/json" },
      });
    const pop = async (q: string) =>
      (await (await fetch(`${s.url}/queue/pop/${q}?timeout=0&ack=manual`)).json()).message as { id: string };
    await push("mq");
    const got = await pop("mq");
    expect((await fetch(`${s.url}/queue/ack/mq/${got.id}`, { method: "POST" })).status).toBe(200);
    await push("mq2");
    const first = await pop("mq2");
    await fetch(`${s.url}/queue/nack/mq2/${first.id}`, { method: "POST" });
    const again = await pop("mq2");
    expect(again.id).toBe(first.id);
    await fetch(`${s.url}/queue/nack/mq2/${again.id}?dead_letter=true`, { method: "POST" });
    s.sidecar.metrics!.denied("handler-a");
    s.sidecar.metrics!.denied("handler-a");
    s.sidecar.metrics!.rateLimited("handler-b");
    text = await metrics();
  });

  it("counts requests exactly per service, method, protocol and code", () => {
    const req = (method: string, protocol: string, code: string) =>
      sample(text, "mikcar_requests_total", { service: "kv", method, protocol, code });
    expect(req("Set", "rest", "ok")).toBe(2);
    expect(req("Get", "rest", "ok")).toBe(3);
    expect(req("Get", "rest", "not_found")).toBe(1);
    expect(req("Get", "connect", "ok")).toBe(2);
    expect(req("Get", "grpc", "not_found")).toBe(1);
  });

  it("has duration histograms with every bucket and a count matching the requests", () => {
    const labels = { service: "kv", method: "Get", protocol: "rest" };
    expect(sample(text, "mikcar_request_duration_seconds_count", labels)).toBe(4);
    for (const le of ["0.0001", "0.001", "0.01", "0.1", "1", "10", "+Inf"]) {
      expect(sample(text, "mikcar_request_duration_seconds_bucket", { ...labels, le })).toBeTypeOf("number");
    }
    expect(sample(text, "mikcar_request_duration_seconds_bucket", { ...labels, le: "+Inf" })).toBe(4);
  });

  it("records backend calls, circuit state, in-flight requests, policy hooks and process metrics", () => {
    // 2 sets + 4 REST gets + 2 Connect gets + 1 gRPC get = 9 KV backend calls, all answered.
    expect(sample(text, "mikcar_backend_calls_total", { service: "kv", backend: "memory", outcome: "ok" })).toBe(9);
    expect(sample(text, "mikcar_backend_call_duration_seconds_count", { service: "kv", backend: "memory" })).toBe(9);
    expect(sample(text, "mikcar_circuit_state", { service: "kv", backend: "memory" })).toBe(0);
    expect(sample(text, "mikcar_inflight_requests", { protocol: "rest" })).toBe(0);
    expect(sample(text, "mikcar_denied_total", { token: "handler-a" })).toBe(2);
    expect(sample(text, "mikcar_rate_limited_total", { token: "handler-b" })).toBe(1);
    expect(sample(text, "mikcar_queue_deliveries_total", { backend: "memory", outcome: "acked" })).toBe(1);
    expect(sample(text, "mikcar_queue_deliveries_total", { backend: "memory", outcome: "redelivered" })).toBe(1);
    expect(sample(text, "mikcar_queue_deliveries_total", { backend: "memory", outcome: "dead-lettered" })).toBe(1);
    expect(text).toMatch(/^mikcar_sql_script_workers\{state="busy"\} 0$/m);
    expect(text).toMatch(/^mikcar_open_connections \d+$/m);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
  });

  it("never puts keys or paths in label values", () => {
    expect(text).not.toContain("m-key");
    expect(text).not.toContain("secret-looking-key");
    expect(text).not.toContain("/kv/");
  });

  it.runIf(havePromtool)("passes promtool check metrics (Debian package prometheus, installed by .ci/run)", () => {
    const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("policy refusals in metrics", () => {
  it("counts denials and rate-limit refusals by token id, from the policy's events", async () => {
    const p = await startSidecar(
      {
        services: { kv: "memory://" },
        policy: {
          tokens: [
            {
              id: "orders",
              token: "orders-secret",
              rate: { per_second: 0.001, burst: 2 },
              allow: [{ service: "kv", methods: ["Get"] }],
            },
          ],
        },
      },
      { admin: true },
    );
    try {
      const auth = { authorization: "Bearer orders-secret" };
      expect((await fetch(`${p.url}/kv/set/x`, { method: "POST", body: "v", headers: auth })).status).toBe(403);
      expect((await fetch(`${p.url}/kv/get/x`, { headers: auth })).status).toBe(404);
      expect((await fetch(`${p.url}/kv/get/x`, { headers: auth })).status).toBe(429);
      const text = await (await fetch(`${p.admin}/metrics`)).text();
      expect(sample(text, "mikcar_denied_total", { token: "orders" })).toBe(1);
      expect(sample(text, "mikcar_rate_limited_total", { token: "orders" })).toBe(1);
      expect(text).not.toContain("orders-secret");
    } finally {
      await p.close();
    }
  });
});
