/**
 * Queue push + pop (auto-ack) round trips over REST on memory, Redis and RabbitMQ, each against its limit
 * (bench/limits/queue.ts: the same XADD/XREADGROUP/XACK or amqplib publish/get/ack behind a bare node:http) with
 * `population` messages already waiting in the 16 queues used. Memory is also held against a KV SET+GET round
 * trip on memory, measured here in the same run. Backends that are not running are skipped with a note.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { measure, type BenchRow, type BenchSuite } from "../lib.js";
import { deleteRedisPrefix } from "../redis-clean.js";
import { startBenchProcess, startSidecarProcess, type BenchServer } from "../servers.js";

const REDIS = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const AMQP = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const QUEUES = 16;
const body = JSON.stringify({ job: "resize", id: 12345, tags: ["a", "b"] });

/** Redis's own CPU time so far (INFO cpu), to show what each round trip costs the shared server. */
async function redisCpu(): Promise<number> {
  const r = new Redis(REDIS);
  try {
    const info = await r.info("cpu");
    const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
    return field("used_cpu_user") + field("used_cpu_sys");
  } finally {
    r.disconnect();
  }
}

/** `n` messages spread over the bench queues, pushed through the server itself 64 at a time. */
async function seed(server: BenchServer, n: number) {
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let i = next++; i < n; i = next++) {
        const res = await fetch(`${server.url}/queue/push/bench${i % QUEUES}`, { method: "POST", body });
        if (!res.ok) throw new Error(`seeding ${server.url}: ${res.status} ${await res.text()}`);
      }
    }),
  );
}

async function reachable(name: string, fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    console.error(`# queue: skipping ${name}: ${(err as Error).message}`);
    return false;
  }
}

/** Removes what the sidecar left on the shared servers (its key and queue names are known here). */
async function cleanUp(prefix: string, backend: string) {
  if (backend === "redis") await deleteRedisPrefix(REDIS, prefix);
  if (backend === "amqp") {
    const conn = await (await import("amqplib")).connect(AMQP);
    const ch = await conn.createChannel();
    for (let i = 0; i < QUEUES; i++) {
      for (const q of [`${prefix}q|bench${i}`, `${prefix}q|bench${i}.dlq`]) await ch.deleteQueue(q).catch(() => {});
    }
    await conn.close();
  }
}

const suite: BenchSuite = {
  name: "queue",
  async run({ durationSec, connections, population }) {
    const rows: Array<BenchRow | undefined> = [];
    const id = `mikcar-bench-${randomBytes(3).toString("hex")}:`;
    const backends = [{ name: "memory", url: (_role: string) => "memory://" }];
    const redisUp = await reachable("redis", async () => {
      const r = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      await r.connect();
      r.disconnect();
    });
    if (redisUp) backends.push({ name: "redis", url: (role) => `${REDIS}?prefix=${id}${role}:` });
    if (await reachable("rabbitmq", async () => (await (await import("amqplib")).connect(AMQP)).close())) {
      backends.push({ name: "amqp", url: (role) => `${AMQP}?prefix=${id}${role}:` });
    }

    // The yardstick for memory: a KV SET+GET round trip on memory, same load shape, same run.
    const kvLimit = await startBenchProcess("./limits/kv.ts", ["memory://"]);
    const kvSide = await startSidecarProcess(["--kv", "--kv-url", "memory://"]);
    try {
      for (const server of [kvLimit, kvSide]) {
        // Present before the first GET: wrk may send a GET while the SET before it is still in flight.
        const batch = Object.fromEntries(Array.from({ length: QUEUES }, (_, i) => [`bench${i}`, body]));
        await fetch(`${server.url}/kv/set/batch`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(batch),
        });
      }
      for (const conns of connections) {
        rows.push(
          await measure({
            suite: "queue",
            name: "kv SET+GET memory",
            unit: "round trips/s",
            connections: conns,
            durationSec,
            limit: kvLimit,
            sidecar: kvSide,
            load: {
              keys: QUEUES,
              steps: [
                { method: "POST", path: "/kv/set/bench{i}", body },
                { method: "GET", path: "/kv/get/bench{i}" },
              ],
            },
          }),
        );
      }
    } finally {
      await kvSide.stop();
      await kvLimit.stop();
    }

    for (const b of backends) {
      const limit = await startBenchProcess("./limits/queue.ts", [b.url("limit")]);
      const side = await startSidecarProcess(["--queue", "--queue-url", b.url("sidecar")]);
      try {
        await seed(limit, population);
        await seed(side, population);
        for (const conns of connections) {
          rows.push(
            await measure({
              suite: "queue",
              name: `push+pop ${b.name}`,
              unit: "round trips/s",
              connections: conns,
              population,
              durationSec,
              limit: limit,
              sidecar: side,
              goal: 0.8,
              goalVs: b.name === "memory" ? "kv SET+GET memory" : undefined,
              // Each pop follows a push to the same queue, so a pop never waits for long; an empty one is an error.
              load: {
                keys: QUEUES,
                steps: [
                  { method: "POST", path: "/queue/push/bench{i}", body },
                  { method: "GET", path: "/queue/pop/bench{i}?timeout=5" },
                ],
                reject: '"message":null',
              },
              direct: b.name === "memory" ? undefined : { service: "queue", backend: b.url("direct"), op: "push+pop" },
              backendCpu: b.name === "redis" ? redisCpu : undefined,
            }),
          );
        }
      } finally {
        await side.stop();
        await limit.stop();
        await cleanUp(`${id}sidecar:`, b.name).catch((err) =>
          console.error(`# queue: clean-up failed: ${err.message}`),
        );
      }
    }
    return rows;
  },
};

export default suite;
