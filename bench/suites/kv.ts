/**
 * KV get and set over REST on memory, lmdb and Redis, each against its limit (a bare node:http server doing the
 * same store call, bench/limits/kv.ts) and the store call alone; set+get as one round trip (the yardstick of the
 * queue suite); Connect JSON on memory; a `keys` page with the whole population present.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { measure, type BenchRow, type BenchSuite } from "../lib.js";
import { deleteRedisPrefix } from "../redis-clean.js";
import { startBenchProcess, startSidecarProcess, type BenchServer } from "../servers.js";

const REDIS = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** Seeds keys bench:0 … bench:n-1 = "hello" through the server's own batch endpoint. */
async function seed(server: BenchServer, n: number) {
  for (let start = 0; start < n; start += 10_000) {
    const batch: Record<string, string> = {};
    for (let i = start; i < Math.min(n, start + 10_000); i++) batch[`bench:${i}`] = "hello";
    const res = await fetch(`${server.url}/kv/set/batch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(batch),
    });
    if (!res.ok) throw new Error(`seeding ${server.url} failed: ${res.status} ${await res.text()}`);
  }
}

async function redisUp(): Promise<boolean> {
  const r = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
    return true;
  } catch (err) {
    console.error(`# kv: skipping redis: ${(err as Error).message}`);
    return false;
  } finally {
    r.disconnect();
  }
}

const suite: BenchSuite = {
  name: "kv",
  async run({ durationSec, connections, population }) {
    const rows: Array<BenchRow | undefined> = [];
    const work = mkdtempSync(join(tmpdir(), "mikcar-bench-kv-"));
    const id = `mikcar-bench-${randomBytes(3).toString("hex")}:`;
    const backends: Array<{ name: string; limit: string; sidecar: string }> = [
      { name: "memory", limit: "memory://", sidecar: "memory://" },
      { name: "lmdb", limit: `file://${join(work, "limit.lmdb")}`, sidecar: `file://${join(work, "sidecar.lmdb")}` },
    ];
    if (await redisUp())
      backends.push({ name: "redis", limit: `${REDIS}?prefix=${id}limit:`, sidecar: `${REDIS}?prefix=${id}sidecar:` });
    try {
      for (const b of backends) {
        const limit = await startBenchProcess("./limits/kv.ts", [b.limit]);
        const side = await startSidecarProcess(["--kv", "--kv-url", b.sidecar]);
        try {
          await seed(limit, population);
          await seed(side, population);
          const keys = population;
          const common = { suite: "kv", durationSec, population, limit: limit, sidecar: side };
          const goal = b.name === "memory" ? undefined : 0.8;
          for (const conns of connections) {
            const at = { ...common, connections: conns };
            rows.push(
              await measure({
                ...at,
                name: `GET ${b.name}`,
                goal,
                load: { keys, steps: [{ method: "GET", path: "/kv/get/bench:{i}" }] },
                direct: { service: "kv", backend: b.limit, op: "get" },
              }),
            );
            rows.push(
              await measure({
                ...at,
                name: `SET ${b.name}`,
                goal,
                load: { keys, steps: [{ method: "POST", path: "/kv/set/bench:{i}", body: "hello" }] },
                direct: { service: "kv", backend: b.limit, op: "set" },
              }),
            );
            if (b.name !== "memory") continue;
            rows.push(
              await measure({
                ...at,
                name: "SET+GET memory",
                unit: "round trips/s",
                load: {
                  keys,
                  steps: [
                    { method: "POST", path: "/kv/set/bench:{i}", body: "hello" },
                    { method: "GET", path: "/kv/get/bench:{i}" },
                  ],
                },
              }),
            );
            // Connect unary is a plain JSON POST, so wrk measures the server's RPC path directly.
            const json = { "content-type": "application/json" };
            rows.push(
              await measure({
                ...at,
                name: "Connect GET memory",
                load: {
                  steps: [
                    { method: "POST", path: "/mikcar.kv.v1.KvService/Get", headers: json, body: '{"key":"bench:1"}' },
                  ],
                },
              }),
            );
            rows.push(
              await measure({
                ...at,
                name: "Connect SET memory",
                load: {
                  steps: [
                    {
                      method: "POST",
                      path: "/mikcar.kv.v1.KvService/Set",
                      headers: json,
                      body: '{"key":"bench:1","value":"aGVsbG8="}',
                    },
                  ],
                },
              }),
            );
          }
          // A page of 100 keys out of the population: should cost the page, not the population.
          rows.push(
            await measure({
              ...common,
              connections: connections.includes(32) ? 32 : connections[0]!,
              name: `keys page of 100 ${b.name}`,
              load: { steps: [{ method: "GET", path: "/kv/keys/bench:5*?limit=100" }] },
              sidecar: side,
              limit: undefined,
            }),
          );
        } finally {
          await side.stop();
          await limit.stop();
        }
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
      if (backends.some((b) => b.name === "redis")) await deleteRedisPrefix(REDIS, id);
    }
    return rows;
  },
};
export default suite;
