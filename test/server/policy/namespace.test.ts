/**
 * Namespaces: two tokens with `methods: ["*"]` and different namespaces cannot see each other's keys, objects,
 * queues or secrets, over the memory backends and over real ones (Redis KV and queues, file storage), on REST
 * and RPC; names come back without the namespace (lists, batches, Watch events, error messages), and no path can
 * climb out of it.
 */
import * as http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvService, WatchResponse_EventType } from "../../../gen/mikcar/kv/v1/kv_pb.js";
import { StorageService } from "../../../gen/mikcar/storage/v1/storage_pb.js";
import { backendAvailable, runId, tcpProbe } from "../../helpers/backends.js";
import { Code, RPC_KINDS, rest, rpc, rpcError, sha256 } from "../../helpers/policy.js";
import { startSidecar, type RunningSidecar } from "../../helpers/sidecar.js";

const A = "tenant-a-token";
const B = "tenant-b-token";
const ADMIN = "admin-token";
const all = ["kv", "storage", "queue", "secrets"].map((service) => ({ service, methods: ["*"] }));
const policy = {
  tokens: [
    { id: "tenant-a", sha256: sha256(A), namespace: "tenant-a/", allow: all },
    { id: "tenant-b", sha256: sha256(B), namespace: "tenant-b/", allow: all },
    { id: "admin", sha256: sha256(ADMIN), allow: all },
  ],
};

const redisUp = await backendAvailable("redis", () => tcpProbe(6379));
const prefix = `${runId("mikcar-ns-")}:`;
const dir = mkdtempSync(join(tmpdir(), "mikcar-ns-"));

const families: Array<[string, boolean, Record<string, string>]> = [
  ["memory", true, { kv: "memory://", storage: "memory://", queue: "memory://", secrets: "memory://" }],
  [
    "redis + file",
    redisUp,
    {
      kv: `redis://127.0.0.1:6379/0?prefix=${prefix}`,
      storage: `file://${dir}`,
      queue: `redis://127.0.0.1:6379/0?prefix=${prefix}q:`,
      // No real secrets server runs here; the secrets service's names are checked on memory in both families.
      secrets: "memory://",
    },
  ],
];

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (!redisUp) return;
  const r = new Redis();
  const keys = await r.keys(`${prefix}*`);
  if (keys.length > 0) await r.del(...keys);
  r.disconnect();
});

/** A request with the path sent exactly as written (fetch would resolve `..` and `%2E%2E` first). */
function rawGet(base: string, token: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}/`,
      { method: "GET", path, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe.each(families)("namespaces on %s", (_family, up, services) => {
  let s: RunningSidecar;
  beforeAll(async () => {
    if (up) s = await startSidecar({ services, policy });
  });
  afterAll(() => s?.close());

  it.runIf(up)("keeps KV keys apart and shows them without the namespace", async () => {
    expect((await rest(s.url, A, "POST", "/kv/set/k1", "from-a", true)).status).toBe(200);
    expect((await rest(s.url, B, "POST", "/kv/set/k1", "from-b", true)).status).toBe(200);
    expect((await rest(s.url, A, "GET", "/kv/get/k1")).body).toEqual({ text: "from-a" });
    expect((await rest(s.url, B, "GET", "/kv/get/k1")).body).toEqual({ text: "from-b" });
    expect((await rest(s.url, ADMIN, "GET", "/kv/get/tenant-a%2Fk1")).body).toEqual({ text: "from-a" });
    const missing = await rest(s.url, B, "GET", "/kv/get/only-a");
    expect(missing.body.error).toBe("key not found: only-a");
    expect((await rest(s.url, A, "GET", "/kv/keys/*")).body.keys).toEqual(["k1"]);
    expect((await rest(s.url, A, "POST", "/kv/get/batch", { keys: ["k1", "nope"] })).body).toEqual({
      k1: "from-a",
      nope: null,
    });
    // A key is opaque text: "../" inside a namespace is just part of tenant-a's own key.
    expect((await rest(s.url, A, "POST", "/kv/set/..%2Ftenant-b%2Fk1", "escape", true)).status).toBe(200);
    expect((await rest(s.url, B, "GET", "/kv/get/k1")).body).toEqual({ text: "from-b" });
    expect((await rest(s.url, ADMIN, "GET", "/kv/get/tenant-a%2F..%2Ftenant-b%2Fk1")).body).toEqual({ text: "escape" });
  });

  it.runIf(up)("keeps objects apart, lists without the namespace and refuses paths that climb out", async () => {
    expect((await rest(s.url, A, "PUT", "/storage/object/docs/f.txt", "a-doc", true)).status).toBe(201);
    expect((await rest(s.url, B, "GET", "/storage/object/docs/f.txt")).status).toBe(404);
    expect((await rest(s.url, A, "GET", "/storage/object/docs/f.txt")).body).toEqual({ text: "a-doc" });
    const list = await rest(s.url, A, "GET", "/storage/list");
    expect((list.body.objects as Array<{ location: string }>).map((o) => o.location)).toEqual(["docs/f.txt"]);
    expect(((await rest(s.url, B, "GET", "/storage/list")).body.objects as unknown[]).length).toBe(0);
    for (const path of [
      "/storage/object/%2E%2E/tenant-a/docs/f.txt",
      "/storage/object/x/%2e%2e/%2e%2e/tenant-a/docs/f.txt",
      "/storage/object/x%2F..%2F..%2Ftenant-a%2Fdocs%2Ff.txt",
      "/storage/object//tenant-a/docs/f.txt",
    ]) {
      const r = await rawGet(s.url, B, path);
      expect(r.status, path).toBe(400);
      expect(r.body).not.toContain("a-doc");
    }
    const copy = await rest(s.url, B, "POST", "/storage/copy", {
      source: "../tenant-a/docs/f.txt",
      destination: "mine",
    });
    expect(copy.status).toBe(400);
    for (const kind of RPC_KINDS) {
      const storage = rpc(s.url, kind, StorageService, B);
      expect((await rpcError(storage.get({ path: "../tenant-a/docs/f.txt" }))).code).toBe(Code.InvalidArgument);
      expect((await rpcError(storage.head({ path: "docs/f.txt" }))).code).toBe(Code.NotFound);
      const own = await rpc(s.url, kind, StorageService, A).head({ path: "docs/f.txt" });
      expect(own.info?.path).toBe("docs/f.txt");
    }
    // Streams: an upload's metadata and a download's header go through the namespace too.
    const a = rpc(s.url, "grpc", StorageService, A);
    async function* parts() {
      yield { part: { case: "metadata" as const, value: { path: "up/g.txt", contentType: "text/plain" } } };
      yield { part: { case: "chunk" as const, value: new TextEncoder().encode("streamed") } };
    }
    expect((await a.upload(parts())).info?.path).toBe("up/g.txt");
    const got: string[] = [];
    for await (const m of a.download({ path: "up/g.txt" })) {
      if (m.part.case === "header") got.push(m.part.value.info?.path ?? "");
      else if (m.part.case === "chunk") got.push(new TextDecoder().decode(m.part.value));
    }
    expect(got).toEqual(["up/g.txt", "streamed"]);
    expect((await rest(s.url, ADMIN, "GET", "/storage/object/tenant-a/up/g.txt")).body).toEqual({ text: "streamed" });
    async function* climbing() {
      yield { part: { case: "metadata" as const, value: { path: "../tenant-b/evil.txt" } } };
      yield { part: { case: "chunk" as const, value: new TextEncoder().encode("x") } };
    }
    expect((await rpcError(a.upload(climbing()))).code).toBe(Code.InvalidArgument);
  });

  it.runIf(up)("keeps queues apart", async () => {
    expect((await rest(s.url, A, "POST", "/queue/push/jobs", { n: 1 })).status).toBe(200);
    expect((await rest(s.url, B, "GET", "/queue/pop/jobs")).body.message).toBeNull();
    expect((await rest(s.url, B, "GET", "/queue/len/jobs")).body.length).toBe(0);
    const got = await rest(s.url, A, "GET", "/queue/pop/jobs");
    expect((got.body.message as { payload: unknown }).payload).toEqual({ n: 1 });
  });

  it.runIf(up)("keeps secrets apart", async () => {
    expect((await rest(s.url, A, "POST", "/secrets/secret/db", { value: "a-pass" })).status).toBe(201);
    expect((await rest(s.url, B, "GET", "/secrets/secret/db")).status).toBe(404);
    const list = await rest(s.url, A, "GET", "/secrets/list");
    expect((list.body.secrets as Array<{ name: string }>).map((x) => x.name)).toEqual(["db"]);
    expect(((await rest(s.url, B, "GET", "/secrets/list")).body.secrets as unknown[]).length).toBe(0);
  });

  it.runIf(up)("strips the namespace from Watch events and shows no other tenant's", async () => {
    const ac = new AbortController();
    const events: Array<{ key: string; type: WatchResponse_EventType }> = [];
    const stream = rpc(s.url, "grpc", KvService, A).watch({ prefix: "w/" }, { signal: ac.signal });
    const reading = (async () => {
      try {
        for await (const ev of stream) {
          events.push({ key: ev.key, type: ev.type });
          if (events.length === 1) ac.abort();
        }
      } catch {
        // aborted
      }
    })();
    // Writes repeat until the watch (which starts asynchronously) has seen one; tenant-b's come first each time.
    for (let i = 0; events.length === 0 && i < 100; i++) {
      await rest(s.url, B, "POST", "/kv/set/w%2Fx", "b", true);
      await rest(s.url, A, "POST", "/kv/set/w%2Fx", "a", true);
      await new Promise((r) => setTimeout(r, 50));
    }
    await reading;
    expect(events[0]).toEqual({ key: "w/x", type: WatchResponse_EventType.SET });
  });

  it.runIf(up)("applies namespaces over RPC too", async () => {
    for (const kind of RPC_KINDS) {
      const a = rpc(s.url, kind, KvService, A);
      await a.set({ key: `rpc-${kind}`, value: new TextEncoder().encode("x") });
      expect((await a.keys({ pattern: `rpc-${kind}*` })).keys).toEqual([`rpc-${kind}`]);
      expect((await rpcError(rpc(s.url, kind, KvService, B).get({ key: `rpc-${kind}` }))).rawMessage).toBe(
        `key not found: rpc-${kind}`,
      );
    }
  });
});
