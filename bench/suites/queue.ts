/**
 * Queue: push + pop round trips per second over REST on each backend, next to the same operations done directly
 * with the backend's client (ioredis, amqplib) in the same run. Memory is compared with Redis direct as a
 * reference point only. Backends that are not running are skipped with a note.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import { Redis } from "ioredis";
import { startSidecar } from "../../test/helpers/sidecar.js";
import { loop, type BenchRow, type BenchSuite } from "../lib.js";

const REDIS = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const AMQP = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const CONCURRENCY = 16;
const body = JSON.stringify({ job: "resize", id: 12345, tags: ["a", "b"] });

/** One HTTP/1.1 request on a keep-alive agent (node:http: fetch in the same process costs more than the server). */
function request(agent: http.Agent, url: string, method: string, payload?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/** Each operation pushes one message and pops one (auto-ack) over REST. */
async function restRoundTrips(url: string, durationSec: number) {
  const s = await startSidecar({ services: { queue: url } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let n = 0;
  try {
    return await loop(
      async () => {
        const q = `bench${n++ % CONCURRENCY}`;
        await request(agent, `${s.url}/queue/push/${q}`, "POST", body);
        await request(agent, `${s.url}/queue/pop/${q}?timeout=5`, "GET");
      },
      durationSec,
      CONCURRENCY,
    );
  } finally {
    agent.destroy();
    await s.close();
  }
}

/** The same round trip straight on Redis Streams: XADD, XREADGROUP, XACK + XDEL. */
async function redisDirect(prefix: string, durationSec: number) {
  const r = new Redis(REDIS);
  const streams = Array.from({ length: CONCURRENCY }, (_, i) => `${prefix}direct${i}`);
  for (const s of streams) await r.xgroup("CREATE", s, "g", "0", "MKSTREAM").catch(() => {});
  let n = 0;
  try {
    return await loop(
      async () => {
        const s = streams[n++ % CONCURRENCY]!;
        await r.xadd(s, "*", "p", body);
        const res = (await r.xreadgroup("GROUP", "g", "c", "COUNT", 1, "STREAMS", s, ">")) as
          | [string, [string, string[]][]][]
          | null;
        const id = res?.[0]?.[1]?.[0]?.[0];
        if (id) await r.multi().xack(s, "g", id).xdel(s, id).exec();
      },
      durationSec,
      CONCURRENCY,
    );
  } finally {
    await r.del(...streams);
    r.disconnect();
  }
}

/** The same round trip straight on RabbitMQ: confirmed publish, basic.get, ack. */
async function amqpDirect(prefix: string, durationSec: number) {
  const amqp = await import("amqplib");
  const conn = await amqp.connect(AMQP, { noDelay: true }); // as the backend does: Nagle costs ~40 ms a round trip
  const ch = await conn.createConfirmChannel();
  const queues = Array.from({ length: CONCURRENCY }, (_, i) => `${prefix}direct${i}`);
  for (const q of queues) await ch.assertQueue(q, { durable: true });
  let n = 0;
  try {
    return await loop(
      async () => {
        const q = queues[n++ % CONCURRENCY]!;
        await new Promise<void>((res, rej) =>
          ch.sendToQueue(q, Buffer.from(body), { persistent: true }, (e) => (e ? rej(e) : res())),
        );
        const msg = await ch.get(q);
        if (msg) ch.ack(msg);
      },
      durationSec,
      CONCURRENCY,
    );
  } finally {
    for (const q of queues) await ch.deleteQueue(q).catch(() => {});
    await conn.close();
  }
}

/** Removes what the REST cases left on the shared servers (the sidecar's queue names are known here). */
async function cleanUp(prefix: string, redisUp: boolean, amqpUp: boolean) {
  if (redisUp) {
    const r = new Redis(REDIS);
    const keys = await r.keys(`${prefix}*`);
    if (keys.length > 0) await r.del(...keys);
    r.disconnect();
  }
  if (amqpUp) {
    const conn = await (await import("amqplib")).connect(AMQP);
    const ch = await conn.createChannel();
    for (let i = 0; i < CONCURRENCY; i++) await ch.deleteQueue(`${prefix}q|bench${i}`).catch(() => {});
    await conn.close();
  }
}

async function reachable(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    console.error(`# queue: skipping a backend: ${(err as Error).message}`);
    return false;
  }
}

const suite: BenchSuite = {
  name: "queue",
  async run({ durationSec }) {
    const rows: BenchRow[] = [];
    const row = (name: string, r: { rps: number; p50Ms: number; p99Ms: number }, baseline?: string): BenchRow => ({
      suite: "queue",
      name,
      value: r.rps,
      unit: "round trips/s",
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      baseline,
    });
    const id = `mikcar-bench-${randomBytes(3).toString("hex")}:`;
    const redisUp = await reachable(async () => {
      const r = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      await r.connect();
      r.disconnect();
    });
    if (redisUp) rows.push(row("redis direct (ioredis streams)", await redisDirect(id, durationSec)));
    rows.push(
      row(
        "rest memory",
        await restRoundTrips("memory://", durationSec),
        redisUp ? "redis direct (ioredis streams)" : undefined,
      ),
    );
    if (redisUp)
      rows.push(
        row("rest redis", await restRoundTrips(`${REDIS}?prefix=${id}`, durationSec), "redis direct (ioredis streams)"),
      );
    const amqpUp = await reachable(async () => (await (await import("amqplib")).connect(AMQP)).close());
    if (amqpUp) {
      rows.push(row("amqp direct (amqplib)", await amqpDirect(id, durationSec)));
      rows.push(row("rest amqp", await restRoundTrips(`${AMQP}?prefix=${id}`, durationSec), "amqp direct (amqplib)"));
    }
    await cleanUp(id, redisUp, amqpUp);
    return rows;
  },
};

export default suite;
