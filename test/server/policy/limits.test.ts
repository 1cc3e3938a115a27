/**
 * Rate limits and concurrency caps: a token bucket refusing past its burst and accepting again once refilled
 * (asserted on status codes and Retry-After, never on timing), the server-wide bucket, buckets in Redis shared by
 * two sidecars, and the per-service bulkhead (bounded wait, then 503).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvService } from "../../../gen/mikcar/kv/v1/kv_pb.js";
import { MemoryRateStore } from "../../../src/server/policy/rate-limit.js";
import { backendAvailable, runId, tcpProbe } from "../../helpers/backends.js";
import { Code, RPC_KINDS, rest, rpc, rpcError, sha256 } from "../../helpers/policy.js";
import { startSidecar, type RunningSidecar } from "../../helpers/sidecar.js";

const LIMITED = "limited-token";
const FREE = "free-token";
const policyWith = (rate: { per_second: number; burst?: number }) => ({
  tokens: [
    { id: "limited", sha256: sha256(LIMITED), rate, allow: [{ service: "kv", methods: ["*"] }] },
    {
      id: "free",
      sha256: sha256(FREE),
      allow: [
        { service: "kv", methods: ["*"] },
        { service: "queue", methods: ["*"] },
      ],
    },
  ],
});

describe("memory buckets", () => {
  it("refill at the configured rate (injected clock)", () => {
    let now = 0;
    const store = new MemoryRateStore(() => now);
    const b = { key: "token:t", perSecond: 2, burst: 2 };
    expect(store.take([b])).toBeUndefined();
    expect(store.take([b])).toBeUndefined();
    expect(store.take([b])).toEqual({ index: 0, waitMs: 500 });
    now = 499;
    expect(store.take([b])?.waitMs).toBeCloseTo(1, 5);
    now = 500;
    expect(store.take([b])).toBeUndefined();
    // A call refused by one bucket takes nothing from the others.
    const server = { key: "server", perSecond: 1, burst: 1 };
    const other = { key: "token:u", perSecond: 1, burst: 1 };
    expect(store.take([other, server])).toBeUndefined();
    expect(store.take([{ ...other, key: "token:v" }, server])).toEqual({ index: 1, waitMs: 1000 });
    now = 1500;
    expect(store.take([{ ...other, key: "token:v" }, server])).toBeUndefined();
  });
});

describe("a token's bucket", () => {
  let s: RunningSidecar;
  beforeAll(async () => {
    s = await startSidecar({ services: { kv: "memory://" }, policy: policyWith({ per_second: 1, burst: 2 }) });
  });
  afterAll(() => s.close());

  it("answers 429 RESOURCE_EXHAUSTED with Retry-After past the burst, then accepts again", async () => {
    const limited: string[] = [];
    s.sidecar.events.on("rate_limited", (e) => limited.push(e.token));
    expect((await rest(s.url, LIMITED, "GET", "/kv/exists/a")).status).toBe(200);
    expect((await rest(s.url, LIMITED, "GET", "/kv/exists/a")).status).toBe(200);
    const r = await rest(s.url, LIMITED, "GET", "/kv/exists/a");
    expect(r.status).toBe(429);
    expect(r.body.code).toBe("RESOURCE_EXHAUSTED");
    expect(r.body.error).toBe("the rate limit of token 'limited' of 1/s (burst 2) is used up; retry in 1 s");
    expect(r.headers.get("retry-after")).toBe("1");
    expect(limited).toEqual(["limited"]);
    // Other tokens have their own (here: no) bucket.
    expect((await rest(s.url, FREE, "GET", "/kv/exists/a")).status).toBe(200);
    for (const kind of RPC_KINDS) {
      const err = await rpcError(rpc(s.url, kind, KvService, LIMITED).exists({ key: "a" }));
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.rawMessage).toContain("1/s (burst 2)");
      if (kind === "connect") expect(err.metadata.get("retry-after")).toBe("1");
    }
    await new Promise((done) => setTimeout(done, Number(r.headers.get("retry-after")) * 1000 + 50));
    expect((await rest(s.url, LIMITED, "GET", "/kv/exists/a")).status).toBe(200);
  });
});

describe("the server-wide bucket", () => {
  let s: RunningSidecar;
  beforeAll(async () => {
    s = await startSidecar({
      services: { kv: "memory://" },
      policy: policyWith({ per_second: 100 }),
      rateLimit: { perSecond: 0.05, burst: 3 },
    });
  });
  afterAll(() => s.close());

  it("limits all tokens together", async () => {
    expect((await rest(s.url, LIMITED, "GET", "/kv/exists/a")).status).toBe(200);
    expect((await rest(s.url, FREE, "GET", "/kv/exists/a")).status).toBe(200);
    expect((await rest(s.url, FREE, "GET", "/kv/exists/a")).status).toBe(200);
    const r = await rest(s.url, LIMITED, "GET", "/kv/exists/a");
    expect(r.status).toBe(429);
    expect(r.body.error).toBe("the server's rate limit of 3/m (burst 3) is used up; retry in 20 s");
    expect(r.headers.get("retry-after")).toBe("20");
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });
});

const redisUp = await backendAvailable("redis", () => tcpProbe(6379));

describe.runIf(redisUp)("buckets in Redis", () => {
  const prefix = `${runId("mikcar-rl-")}:`;
  let a: RunningSidecar;
  let b: RunningSidecar;
  beforeAll(async () => {
    const opts = {
      services: { kv: "memory://" },
      policy: policyWith({ per_second: 0.01, burst: 3 }),
      rateLimitStore: `redis://127.0.0.1:6379/0?prefix=${prefix}`,
    };
    a = await startSidecar(opts);
    b = await startSidecar(opts);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    const r = new Redis();
    const keys = await r.keys(`${prefix}*`);
    if (keys.length > 0) await r.del(...keys);
    r.disconnect();
  });

  it("are shared by two sidecars: the burst is spent across both", async () => {
    expect((await rest(a.url, LIMITED, "GET", "/kv/exists/k")).status).toBe(200);
    expect((await rest(b.url, LIMITED, "GET", "/kv/exists/k")).status).toBe(200);
    expect((await rest(a.url, LIMITED, "GET", "/kv/exists/k")).status).toBe(200);
    const fromB = await rest(b.url, LIMITED, "GET", "/kv/exists/k");
    expect(fromB.status).toBe(429);
    expect(Number(fromB.headers.get("retry-after"))).toBeGreaterThan(1);
    expect((await rest(a.url, LIMITED, "GET", "/kv/exists/k")).status).toBe(429);
    const err = await rpcError(rpc(b.url, "grpc", KvService, LIMITED).exists({ key: "k" }));
    expect(err.code).toBe(Code.ResourceExhausted);
    const r = new Redis();
    expect(await r.exists(`${prefix}mikcar:rate:token:limited`)).toBe(1);
    r.disconnect();
  });

  it("fail closed with 503 when Redis cannot be reached", async () => {
    const down = await startSidecar({
      services: { kv: "memory://" },
      policy: policyWith({ per_second: 1 }),
      rateLimitStore: "redis://127.0.0.1:1/0",
    });
    try {
      const r = await rest(down.url, LIMITED, "GET", "/kv/exists/k");
      expect(r.status).toBe(503);
      expect(r.body.code).toBe("UNAVAILABLE");
      expect((await rest(down.url, FREE, "GET", "/kv/exists/k")).status).toBe(200); // no bucket, no Redis call
    } finally {
      await down.close();
    }
  });
});

describe("the bulkhead", () => {
  let s: RunningSidecar;
  let patient: RunningSidecar;
  beforeAll(async () => {
    const base = { services: { queue: "memory://", kv: "memory://" }, policy: policyWith({ per_second: 100 }) };
    s = await startSidecar({ ...base, maxConcurrency: { queue: 1 }, maxConcurrencyWaitMs: 200 });
    patient = await startSidecar({ ...base, maxConcurrency: { queue: 1 }, maxConcurrencyWaitMs: 10_000 });
  });
  afterAll(async () => {
    await s.close();
    await patient.close();
  });

  it("makes excess calls wait a bounded time and then answers 503", async () => {
    // A long-poll on an empty queue holds the only slot for two seconds.
    const holding = rest(s.url, FREE, "GET", "/queue/pop/empty?timeout=2");
    await new Promise((r) => setTimeout(r, 300)); // lets the long-poll take the slot first
    const r = await rest(s.url, FREE, "GET", "/queue/len/empty");
    expect(r.status).toBe(503);
    expect(r.body.error).toBe(
      "queue is at its concurrency limit (1 calls in flight) and no slot freed up within 200 ms; retry later",
    );
    const err = await rpcError(
      rpc(s.url, "grpc", (await import("../../../gen/mikcar/queue/v1/queue_pb.js")).QueueService, FREE).len({
        queue: "empty",
      }),
    );
    expect(err.code).toBe(Code.Unavailable);
    expect((await rest(s.url, FREE, "GET", "/kv/exists/x")).status).toBe(200); // other services are not capped
    expect((await holding).status).toBe(200);
    expect((await rest(s.url, FREE, "GET", "/queue/len/empty")).status).toBe(200);
  });

  it("lets a waiting call through when a slot frees up within the wait", async () => {
    const holding = rest(patient.url, FREE, "GET", "/queue/pop/empty?timeout=2");
    await new Promise((r) => setTimeout(r, 300)); // lets the long-poll take the slot first
    const r = await rest(patient.url, FREE, "GET", "/queue/len/empty");
    expect(r.status).toBe(200);
    expect((await holding).status).toBe(200);
  });
});
