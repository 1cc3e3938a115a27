/** Server-wide HTTP behaviour: auth on every route family, health, trace ids, body limit, request timeout. */
import * as net from "node:net";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvService } from "../../gen/mikcar/kv/v1/kv_pb.js";
import { Health } from "../../gen/health/v1/health_pb.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

describe("auth", () => {
  let s: RunningSidecar;
  beforeAll(async () => {
    s = await startSidecar({
      services: {
        storage: "memory://",
        kv: "memory://",
        sql: "sqlite::memory:",
        queue: "memory://",
        secrets: "memory://",
        email: "memory://",
      },
      authToken: "s3cret",
    });
  });
  afterAll(() => s.close());
  const ok = { authorization: "Bearer s3cret" };

  it("leaves /health open", async () => {
    const r = await fetch(`${s.url}/health`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: "ok", services: { kv: { backend: "memory", status: "ok" } } });
    expect((await fetch(`${s.url}/health`, { method: "HEAD" })).status).toBe(200);
  });

  it("guards every REST route of every service: 401 without or with a wrong token, the route's answer with it", async () => {
    const routes: Array<[string, string]> = [
      ["GET", "/kv/get/a"],
      ["POST", "/kv/set/a"],
      ["POST", "/kv/get/batch"],
      ["DELETE", "/kv/del/a"],
      ["GET", "/kv/keys/a"],
      ["POST", "/kv/increment/n"],
      ["GET", "/kv/exists/a"],
      ["GET", "/kv/ttl/a"],
      ["POST", "/kv/expire/a"],
      ["GET", "/storage/object/a.txt"],
      ["PUT", "/storage/object/a.txt"],
      ["HEAD", "/storage/object/a.txt"],
      ["DELETE", "/storage/object/a.txt"],
      ["GET", "/storage/list"],
      ["POST", "/sql/query"],
      ["POST", "/sql/execute"],
      ["POST", "/sql/batch"],
      ["POST", "/sql/script"],
      ["POST", "/queue/push/q"],
      ["GET", "/queue/pop/q"],
      ["POST", "/queue/publish/t"],
      ["GET", "/queue/subscribe/t"],
      ["POST", "/queue/ack/q/1"],
      ["GET", "/queue/len/q"],
      ["GET", "/secrets/secret/a"],
      ["POST", "/secrets/secret/a"],
      ["GET", "/secrets/exists/a"],
      ["GET", "/secrets/list"],
      ["POST", "/email/send"],
      ["POST", "/email/send/batch"],
      ["GET", "/email/outbox"],
    ];
    for (const [method, path] of routes) {
      for (const authorization of [undefined, "Bearer wrong", "bearer s3cret", "s3cret", "Bearer  s3cret"]) {
        const r = await fetch(s.url + path, { method, headers: authorization ? { authorization } : {} });
        expect(r.status, `${method} ${path} with ${authorization}`).toBe(401);
        if (method !== "HEAD") expect(await r.json()).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
      }
      const r = await fetch(s.url + path, { method, headers: ok });
      expect(r.status, `${method} ${path}`).not.toBe(401);
    }
  });

  it("answers unknown paths 401 without a token and 404 with one", async () => {
    expect((await fetch(`${s.url}/nope`)).status).toBe(401);
    expect((await fetch(`${s.url}/nope`, { headers: ok })).status).toBe(404);
  });

  it("guards RPCs with the same token (UNAUTHENTICATED), but not gRPC health", async () => {
    for (const transport of [
      createGrpcTransport({ baseUrl: s.url }),
      createConnectTransport({ baseUrl: s.url, httpVersion: "1.1" }),
    ]) {
      const kv = createClient(KvService, transport);
      await expect(kv.exists({ key: "a" })).rejects.toMatchObject({ code: 16 });
      await expect(kv.exists({ key: "a" }, { headers: { authorization: "Bearer nope" } })).rejects.toMatchObject({
        code: 16,
      });
      expect((await kv.exists({ key: "a" }, { headers: ok })).exists).toBe(false);
      const health = createClient(Health, transport);
      expect((await health.check({ service: "" })).status).toBe(1);
    }
  });
});

describe("limits, tracing, envelopes", () => {
  let s: RunningSidecar;
  beforeAll(async () => {
    s = await startSidecar({ services: { kv: "memory://" }, limits: { maxBodyBytes: 1024, requestTimeoutMs: 500 } });
  });
  afterAll(() => s.close());

  it("echoes a valid x-trace-id, derives one from traceparent, else makes one", async () => {
    let r = await fetch(`${s.url}/kv/exists/a`, { headers: { "x-trace-id": "abc-123" } });
    expect(r.headers.get("x-trace-id")).toBe("abc-123");
    const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    r = await fetch(`${s.url}/kv/exists/a`, { headers: { traceparent: tp } });
    expect(r.headers.get("x-trace-id")).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(r.headers.get("traceparent")).toBe(tp);
    r = await fetch(`${s.url}/kv/exists/a`, { headers: { "x-trace-id": "bad id with spaces" } });
    expect(r.headers.get("x-trace-id")).toMatch(/^[0-9a-f-]{36}$/);
    r = await fetch(`${s.url}/nope`);
    expect(r.headers.get("x-trace-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("refuses an oversize body with 413 (declared or streamed) and stores nothing", async () => {
    let r = await fetch(`${s.url}/kv/set/big`, { method: "POST", body: "x".repeat(2048) });
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({ code: "PAYLOAD_TOO_LARGE", status: 413 });
    const chunks = new ReadableStream({
      start(c) {
        for (let i = 0; i < 8; i++) c.enqueue(new TextEncoder().encode("y".repeat(512)));
        c.close();
      },
    });
    r = await fetch(`${s.url}/kv/set/big`, { method: "POST", body: chunks, duplex: "half" } as RequestInit);
    expect(r.status).toBe(413);
    expect(await fetch(`${s.url}/kv/exists/big`).then((x) => x.json())).toEqual({ exists: false });
  });

  it("refuses oversize RPC messages too", async () => {
    const kv = createClient(KvService, createGrpcTransport({ baseUrl: s.url }));
    await expect(kv.set({ key: "big", value: new Uint8Array(4096) })).rejects.toMatchObject({ code: 8 });
  });

  it("answers 408 to a request that is still sending its body after the timeout", async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(Number(new URL(s.url).port), "127.0.0.1", () => {
        sock.write("POST /kv/set/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
      });
      let data = "";
      sock.on("data", (d) => (data += d));
      sock.on("close", () => resolve(data));
      sock.on("error", reject);
      setTimeout(() => sock.destroy(), 5_000);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toContain('"code":"REQUEST_TIMEOUT"');
  });
});
