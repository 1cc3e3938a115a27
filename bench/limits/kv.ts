/**
 * The KV limit: get and set answered with nothing but the store call — a Map for memory://, lmdb-js opened as the
 * sidecar opens it for file://, ioredis GET/SET for redis:// — on the REST paths and the Connect JSON paths the
 * bench drives. `POST /kv/set/batch` seeds the keys present.
 */
import { isMain, serve, type Limit, type LimitRoute } from "./serve.js";

interface Store {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<unknown>;
  setMany(entries: Array<[string, Uint8Array]>): Promise<unknown>;
  close(): Promise<unknown>;
}

async function store(url: string): Promise<Store> {
  const u = new URL(url);
  if (u.protocol === "memory:") {
    const map = new Map<string, Uint8Array>();
    return {
      get: async (k) => map.get(k),
      set: async (k, v) => map.set(k, Uint8Array.from(v)),
      setMany: async (es) => es.forEach(([k, v]) => map.set(k, v)),
      close: async () => map.clear(),
    };
  }
  if (u.protocol === "file:") {
    const { open } = await import("lmdb");
    const db = open<Buffer, string>({ path: u.pathname, encoding: "binary", compression: false });
    return {
      get: async (k) => db.get(k),
      set: (k, v) => db.put(k, Buffer.from(v)),
      setMany: (es) => db.transaction(() => es.forEach(([k, v]) => db.put(k, Buffer.from(v)))),
      close: () => db.close(),
    };
  }
  if (u.protocol === "redis:") {
    const { Redis } = await import("ioredis");
    const prefix = u.searchParams.get("prefix") ?? "";
    u.search = "";
    const r = new Redis(u.toString());
    return {
      get: async (k) => (await r.getBuffer(prefix + k)) ?? undefined,
      set: (k, v) => r.set(prefix + k, Buffer.from(v)),
      setMany: (es) => r.mset(...es.flatMap(([k, v]) => [prefix + k, Buffer.from(v)])),
      close: async () => r.disconnect(),
    };
  }
  throw new Error(`limits/kv: unsupported backend ${url}`);
}

const value = Buffer.from("hello");

export async function open(url: string): Promise<Limit> {
  const s = await store(url);
  const notFound = (key: string) => ({ status: 404, json: { error: `key not found: ${key}` } });
  const routes: LimitRoute[] = [
    {
      method: "GET",
      prefix: "/kv/get/",
      async handle({ rest }) {
        const v = await s.get(rest);
        return v === undefined ? notFound(rest) : { body: Buffer.from(v.buffer, v.byteOffset, v.byteLength) };
      },
    },
    {
      method: "POST",
      prefix: "/kv/set/batch",
      async handle({ body }) {
        const entries = Object.entries(JSON.parse(body.toString()) as Record<string, string>).map(
          ([k, v]): [string, Uint8Array] => [k, Buffer.from(v)],
        );
        await s.setMany(entries);
        return { json: { count: entries.length, status: "ok" } };
      },
    },
    {
      method: "POST",
      prefix: "/kv/set/",
      async handle({ rest, body }) {
        await s.set(rest, body);
        return { json: { key: rest, status: "ok" } };
      },
    },
    {
      method: "POST",
      prefix: "/mikcar.kv.v1.KvService/Get",
      async handle({ body }) {
        const { key } = JSON.parse(body.toString()) as { key: string };
        const v = await s.get(key);
        return v === undefined
          ? { status: 404, json: { code: "not_found", message: `key not found: ${key}` } }
          : { json: { value: Buffer.from(v).toString("base64") } };
      },
    },
    {
      method: "POST",
      prefix: "/mikcar.kv.v1.KvService/Set",
      async handle({ body }) {
        const req = JSON.parse(body.toString()) as { key: string; value: string };
        await s.set(req.key, Buffer.from(req.value, "base64"));
        return { json: {} };
      },
    },
  ];
  return {
    routes,
    direct: {
      get: (i) => s.get(`bench:${i}`),
      set: (i) => s.set(`bench:${i}`, value),
    },
    close: () => s.close().then(() => {}),
  };
}

if (isMain(import.meta.url)) await serve(open);
