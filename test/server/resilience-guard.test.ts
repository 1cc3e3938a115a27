/**
 * The backend guard on its own, over the real memory KV backend with a decorator that fails a given number of
 * calls first: which calls are retried, the call timeout, and the breaker's trip rules (consecutive failures and
 * failure percentage), its refusal (503 naming the backend, Retry-After), half-open probe and recovery.
 */
import { describe, expect, it } from "vitest";
import { MemoryKv } from "../../src/services/kv/backends/memory.js";
import type { KvBackend } from "../../src/services/kv/backend.js";
import { KV_CALLS } from "../../src/services/kv/calls.js";
import { sidecarError, SidecarError } from "../../src/shared/errors.js";
import { guardBackend } from "../../src/shared/instrument.js";
import { BackendPolicy } from "../../src/shared/resilience.js";
import { DEFAULT_RESILIENCE, type ResilienceSettings } from "../../src/shared/resilience-options.js";

/** A real backend whose next `failures` calls of any guarded method throw UNAVAILABLE (or hang, for timeouts). */
function flaky(inner: KvBackend) {
  const state = { failures: 0, calls: 0, hang: false };
  const fail = <T>(fn: () => Promise<T>): Promise<T> => {
    state.calls++;
    if (state.hang) return new Promise<T>(() => {});
    if (state.failures > 0) {
      state.failures--;
      return Promise.reject(sidecarError("UNAVAILABLE", "redis is unavailable; retry later"));
    }
    return fn();
  };
  const b: KvBackend = {
    name: "flaky",
    get: (k) => fail(() => inner.get(k)),
    getMany: (k) => fail(() => inner.getMany(k)),
    set: (k, v, t) => fail(() => inner.set(k, v, t)),
    setMany: (e, t) => fail(() => inner.setMany(e, t)),
    delete: (k) => fail(() => inner.delete(k)),
    keys: (q) => fail(() => inner.keys(q)),
    increment: (k, by) => fail(() => inner.increment(k, by)),
    pttl: (k) => fail(() => inner.pttl(k)),
    expire: (k, ms) => fail(() => inner.expire(k, ms)),
    watch: (p, s) => inner.watch(p, s),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  return { b, state };
}

function guarded(settings: Partial<ResilienceSettings>) {
  const { b, state } = flaky(new MemoryKv());
  const states: string[] = [];
  const policy = new BackendPolicy(
    "kv",
    "flaky",
    { ...DEFAULT_RESILIENCE, retryDelayMs: 1, retryMaxDelayMs: 5, ...settings },
    (s) => states.push(s),
  );
  return { kv: guardBackend(b, KV_CALLS, policy, undefined), state, policy, states };
}

const v = new TextEncoder().encode("x");

describe("retries", () => {
  it("absorb a blip for an idempotent call", async () => {
    const { kv, state } = guarded({ retries: 3, breakerFailures: 0 });
    await kv.set("k", v);
    state.calls = 0;
    state.failures = 2;
    expect(await kv.get("k")).toEqual(v);
    expect(state.calls).toBe(3);
  });

  it("never retry a call that is not idempotent", async () => {
    const { kv, state } = guarded({ retries: 3, breakerFailures: 0 });
    state.failures = 1;
    await expect(kv.increment("n", 1n)).rejects.toMatchObject({ kind: { code: "UNAVAILABLE" } });
    expect(state.calls).toBe(1);
    expect(await kv.increment("n", 1n)).toBe(1n); // applied once, by the second request
  });

  it("do not retry an answer such as NOT_FOUND, and give up after the configured number", async () => {
    const { kv, state } = guarded({ retries: 2, breakerFailures: 0 });
    state.failures = 10;
    await expect(kv.get("k")).rejects.toBeInstanceOf(SidecarError);
    expect(state.calls).toBe(3);
  });
});

describe("call timeout", () => {
  it("fails a call that does not answer in time with 504 naming the backend", async () => {
    const { kv, state } = guarded({ callTimeoutMs: 30, retries: 0, breakerFailures: 0 });
    state.hang = true;
    const err = await kv.get("k").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SidecarError);
    expect((err as SidecarError).kind.status).toBe(504);
    expect((err as SidecarError).rawMessage).toBe("kv backend flaky did not answer within 30 ms");
  });
});

describe("circuit breaker", () => {
  it("opens after N consecutive failures, fails fast with 503 + Retry-After, half-opens for one probe and closes", async () => {
    const { kv, state, policy, states } = guarded({ retries: 0, breakerFailures: 3, halfOpenAfterMs: 200 });
    state.failures = 3;
    for (let i = 0; i < 3; i++) await expect(kv.get("k")).rejects.toMatchObject({ kind: { code: "UNAVAILABLE" } });
    expect(policy.state).toBe("open");
    const calls = state.calls;
    const err = (await kv.get("k").catch((e: unknown) => e)) as SidecarError;
    expect(state.calls).toBe(calls); // refused without touching the backend
    expect(err.kind.status).toBe(503);
    expect(err.rawMessage).toContain("kv backend flaky is unavailable: its circuit breaker is open");
    expect(err.extra).toMatchObject({ backend: "flaky", breaker: "open" });
    expect(Number(err.metadata.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 250));
    // Half-open: one probe reaches the backend; a concurrent call waits for its verdict (cockatiel), then runs.
    const before = state.calls;
    const probe = kv.get("k");
    const other = kv.get("k");
    expect(state.calls).toBe(before + 1);
    expect(await probe).toBeUndefined();
    expect(await other).toBeUndefined();
    expect(policy.state).toBe("closed");
    expect(states).toEqual(["open", "half-open", "closed"]);
  });

  it("opens on a failure percentage over the window even without consecutive failures", async () => {
    const { kv, state, policy } = guarded({ retries: 0, breakerFailures: 0, breakerPercent: 50, breakerWindow: 10 });
    for (let i = 0; i < 10 && policy.state === "closed"; i++) {
      state.failures = i % 2 === 0 ? 1 : 0; // every other call fails
      await kv.get("k").catch(() => {});
    }
    expect(policy.state).toBe("open");
  });

  it("does not count client errors (NOT_FOUND, bad input) as failures", async () => {
    const { kv, policy } = guarded({ retries: 0, breakerFailures: 2 });
    await kv.set("s", new TextEncoder().encode("text"));
    for (let i = 0; i < 5; i++)
      await expect(kv.increment("s", 1n)).rejects.toMatchObject({ kind: { code: "CONFLICT" } });
    expect(policy.state).toBe("closed");
  });

  it("lets untimed calls (uploads, transactions, long-polls) fail fast while open, but never be the probe", async () => {
    const storage = {
      name: "slow",
      calls: 0,
      write: async () => {
        storage.calls++;
        return "done";
      },
      ping: async () => {},
      close: async () => {},
    };
    const policy = new BackendPolicy("storage", "slow", {
      ...DEFAULT_RESILIENCE,
      breakerFailures: 1,
      halfOpenAfterMs: 10_000,
    });
    const g = guardBackend(storage, { write: "untimed" }, policy, undefined);
    expect(await g.write()).toBe("done");
    // Open the breaker through a timed call of the same policy.
    await policy.run(() => Promise.reject(sidecarError("UNAVAILABLE", "down")), false, true).catch(() => {});
    expect(policy.state).toBe("open");
    const err = (await g.write().catch((e: unknown) => e)) as SidecarError;
    expect(err.extra).toMatchObject({ breaker: "open" });
    expect(storage.calls).toBe(1);
  });
});
