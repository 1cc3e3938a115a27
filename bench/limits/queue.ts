/**
 * The queue limit: push and pop (auto-ack once the response is written, as the sidecar does) with nothing but
 * the backend's own calls. memory:// is an array per queue with waiters for long-polls; redis:// is XADD, then
 * XREADGROUP (BLOCK when empty) and XACK + XDEL after the reply; amqp:// is a confirmed persistent publish, then
 * basic.get and ack after the reply (polling every 5 ms when the queue is empty).
 */
import { randomUUID } from "node:crypto";
import { isMain, serve, type Limit, type LimitRoute } from "./serve.js";

interface Taken {
  id: string;
  payload: string;
  ack(): void;
}

interface Backend {
  push(queue: string, payload: string): Promise<string>;
  /** Waits up to `ms` for a message. */
  pop(queue: string, ms: number): Promise<Taken | undefined>;
  close(): Promise<void>;
}

function memory(): Backend {
  const queues = new Map<string, string[][]>();
  const waiting = new Map<string, Array<() => void>>();
  const list = (q: string) => queues.get(q) ?? (queues.set(q, []), queues.get(q)!);
  const take = (q: string): Taken | undefined => {
    const m = list(q).shift();
    return m && { id: m[0]!, payload: m[1]!, ack() {} };
  };
  return {
    async push(q, payload) {
      const id = randomUUID();
      list(q).push([id, payload]);
      waiting.get(q)?.shift()?.();
      return id;
    },
    async pop(q, ms) {
      const now = take(q);
      if (now || ms <= 0) return now;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        const ws = waiting.get(q) ?? (waiting.set(q, []), waiting.get(q)!);
        ws.push(() => (clearTimeout(timer), resolve()));
      });
      return take(q);
    },
    async close() {},
  };
}

async function redis(url: URL): Promise<Backend> {
  const { Redis } = await import("ioredis");
  const prefix = url.searchParams.get("prefix") ?? "";
  url.search = "";
  const r = new Redis(url.toString());
  const groups = new Set<string>();
  const stream = async (q: string) => {
    const s = `${prefix}${q}`;
    if (!groups.has(s)) {
      await r.xgroup("CREATE", s, "g", "0", "MKSTREAM").catch(() => {});
      groups.add(s);
    }
    return s;
  };
  return {
    async push(q, payload) {
      return (await r.xadd(await stream(q), "*", "p", payload))!;
    },
    async pop(q, ms) {
      const s = await stream(q);
      const args = ms > 0 ? ["BLOCK", ms] : [];
      const res = (await r.xreadgroup("GROUP", "g", "c", "COUNT", 1, ...(args as []), "STREAMS", s, ">")) as
        | [string, [string, string[]][]][]
        | null;
      const entry = res?.[0]?.[1]?.[0];
      if (!entry) return undefined;
      return {
        id: entry[0],
        payload: entry[1][1]!,
        ack: () => void r.multi().xack(s, "g", entry[0]).xdel(s, entry[0]).exec(),
      };
    },
    async close() {
      const keys = [...groups];
      if (keys.length > 0) await r.del(...keys);
      r.disconnect();
    },
  };
}

async function amqp(url: URL): Promise<Backend> {
  const amqplib = await import("amqplib");
  const prefix = url.searchParams.get("prefix") ?? "";
  url.searchParams.delete("prefix");
  // noDelay as the sidecar's backend does: Nagle costs ~40 ms a round trip.
  const conn = await amqplib.connect(url.toString(), { noDelay: true });
  const ch = await conn.createConfirmChannel();
  const asserted = new Set<string>();
  const queue = async (q: string) => {
    const name = `${prefix}${q}`;
    if (!asserted.has(name)) {
      await ch.assertQueue(name, { durable: true });
      asserted.add(name);
    }
    return name;
  };
  return {
    async push(q, payload) {
      const name = await queue(q);
      const id = randomUUID();
      await new Promise<void>((res, rej) =>
        ch.sendToQueue(name, Buffer.from(payload), { persistent: true, messageId: id }, (e) => (e ? rej(e) : res())),
      );
      return id;
    },
    async pop(q, ms) {
      const name = await queue(q);
      const end = Date.now() + ms;
      for (;;) {
        const m = await ch.get(name);
        if (m) return { id: String(m.properties.messageId), payload: m.content.toString(), ack: () => ch.ack(m) };
        if (Date.now() >= end) return undefined;
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async close() {
      for (const q of asserted) await ch.deleteQueue(q).catch(() => {});
      await conn.close();
    },
  };
}

async function backend(url: string): Promise<Backend> {
  const u = new URL(url);
  if (u.protocol === "memory:") return memory();
  if (u.protocol === "redis:") return redis(u);
  if (u.protocol === "amqp:") return amqp(u);
  throw new Error(`limits/queue: unsupported backend ${url}`);
}

const payload = JSON.stringify({ job: "resize", id: 12345, tags: ["a", "b"] });

export async function open(url: string): Promise<Limit> {
  const b = await backend(url);
  const routes: LimitRoute[] = [
    {
      method: "POST",
      prefix: "/queue/push/",
      async handle({ rest, body }) {
        const id = await b.push(rest, body.toString());
        return { json: { message_id: id, queue: rest, status: "pushed" } };
      },
    },
    {
      method: "GET",
      prefix: "/queue/pop/",
      async handle({ rest, query }) {
        const m = await b.pop(rest, Number(query.get("timeout") ?? 0) * 1000);
        const message = m
          ? `{"id":${JSON.stringify(m.id)},"payload":${m.payload},"received_at":${JSON.stringify(new Date().toISOString())}}`
          : "null";
        return {
          body: `{"message":${message},"queue":${JSON.stringify(rest)}}`,
          headers: { "content-type": "application/json" },
          after: m?.ack,
        };
      },
    },
  ];
  return {
    routes,
    direct: {
      "push+pop": async (i) => {
        const q = `bench${i % 16}`;
        await b.push(q, payload);
        const m = await b.pop(q, 5_000);
        m?.ack();
      },
    },
    close: () => b.close(),
  };
}

if (isMain(import.meta.url)) await serve(open);
