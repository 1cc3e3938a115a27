/**
 * Every rule type of a policy, over REST, Connect and gRPC against one sidecar: methods, resource globs,
 * batches with one forbidden key, Keys/List filtering, senders, SQL Query-only tokens running read-only, and
 * the refusals (403 / PERMISSION_DENIED with one message, 401 for unknown tokens).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvService } from "../../../gen/mikcar/kv/v1/kv_pb.js";
import { EmailService } from "../../../gen/mikcar/email/v1/email_pb.js";
import { QueueService } from "../../../gen/mikcar/queue/v1/queue_pb.js";
import { SecretsService } from "../../../gen/mikcar/secrets/v1/secrets_pb.js";
import { SqlService } from "../../../gen/mikcar/sql/v1/sql_pb.js";
import { StorageService } from "../../../gen/mikcar/storage/v1/storage_pb.js";
import type { PolicyEvents } from "../../../src/server/policy/events.js";
import { startSidecar, type RunningSidecar } from "../../helpers/sidecar.js";
import { Code, RPC_KINDS, rest, rpc, rpcError, sha256 } from "../../helpers/policy.js";

const ORDERS = "orders-secret-token";
const READER = "reader-secret-token";
const ADMIN = "admin-secret-token";

const policy = {
  tokens: [
    {
      id: "orders",
      sha256: sha256(ORDERS),
      allow: [
        { service: "kv", methods: ["Get", "GetBatch", "Set", "SetBatch", "Keys"], resources: ["cart/*"] },
        { service: "sql", methods: ["Query"] },
        { service: "storage", methods: ["*"], resources: ["invoices/*"] },
        { service: "secrets", methods: ["Get", "List"], resources: ["orders/*"] },
        {
          service: "email",
          methods: ["Send", "SendBatch", "ListOutbox", "ClearOutbox"],
          resources: ["noreply@orders.example.com"],
        },
        { service: "queue", methods: ["Push", "Pop", "Ack"], resources: ["jobs", "jobs.dlq"] },
      ],
    },
    { id: "reader", token: READER, allow: [{ service: "kv", methods: ["Get", "Keys"] }] },
    {
      id: "admin",
      sha256: sha256(ADMIN),
      allow: ["kv", "sql", "storage", "secrets", "email", "queue"].map((service) => ({ service, methods: ["*"] })),
    },
  ],
};

let s: RunningSidecar;
const denials: unknown[] = [];
beforeAll(async () => {
  s = await startSidecar({
    services: {
      kv: "memory://",
      sql: "sqlite::memory:",
      storage: "memory://",
      secrets: "memory://",
      email: "memory://",
      queue: "memory://",
    },
    policy,
  });
  (s.sidecar.events as PolicyEvents).on("denied", (d) => denials.push(d));
  for (const k of ["cart/1", "cart/2", "other/1", "cartx"])
    expect((await rest(s.url, ADMIN, "POST", `/kv/set/${encodeURIComponent(k)}`, k, true)).status).toBe(200);
  expect((await rest(s.url, ADMIN, "POST", "/sql/execute", { sql: "create table t (n int)" })).status).toBe(200);
  expect((await rest(s.url, ADMIN, "POST", "/sql/execute", { sql: "insert into t values (1), (2)" })).status).toBe(200);
  for (const n of ["orders/db", "orders/api", "users/db"])
    expect((await rest(s.url, ADMIN, "POST", `/secrets/secret/${n}`, { value: `v-${n}` })).status).toBe(201);
});
afterAll(() => s.close());

describe("methods and resources over REST", () => {
  it("allows a method on a matching key and refuses other methods with the exact message", async () => {
    expect((await rest(s.url, ORDERS, "GET", "/kv/get/cart%2F1")).body).toEqual({ text: "cart/1" });
    const r = await rest(s.url, ORDERS, "DELETE", "/kv/del/cart%2F1");
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({
      code: "PERMISSION_DENIED",
      error: "token 'orders' may not call kv.Delete on 'cart/1'",
      status: 403,
    });
    expect(denials).toContainEqual({ token: "orders", service: "kv", method: "Delete", resource: "cart/1" });
  });

  it("refuses a key outside the globs ('*' crosses '/', the glob is anchored)", async () => {
    expect((await rest(s.url, ORDERS, "GET", "/kv/get/other%2F1")).body.error).toBe(
      "token 'orders' may not call kv.Get on 'other/1'",
    );
    expect((await rest(s.url, ORDERS, "GET", "/kv/get/cartx")).status).toBe(403);
    expect((await rest(s.url, ORDERS, "POST", "/kv/set/cart%2Fa%2Fb%2Fc", "deep", true)).status).toBe(200);
  });

  it("refuses a whole batch when one key is forbidden, and nothing of it is written", async () => {
    const r = await rest(s.url, ORDERS, "POST", "/kv/set/batch", { "cart/b1": "1", "other/b2": "2" });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe("token 'orders' may not call kv.SetBatch on 'other/b2'");
    expect((await rest(s.url, ADMIN, "GET", "/kv/get/cart%2Fb1")).status).toBe(404);
    const g = await rest(s.url, ORDERS, "POST", "/kv/get/batch", { keys: ["cart/1", "other/1"] });
    expect(g.status).toBe(403);
  });

  it("filters Keys to what the token may see", async () => {
    const r = await rest(s.url, ORDERS, "GET", "/kv/keys/*");
    expect(r.status).toBe(200);
    expect((r.body.keys as string[]).sort()).toEqual(["cart/1", "cart/2", "cart/a/b/c"]);
    // A rule without resources sees everything.
    const all = await rest(s.url, READER, "GET", "/kv/keys/*");
    expect(all.body.keys).toEqual(expect.arrayContaining(["other/1", "cartx"]));
  });

  it("checks both sides of a storage copy and filters List", async () => {
    expect((await rest(s.url, ORDERS, "PUT", "/storage/object/invoices/1.txt", "inv", true)).status).toBe(201);
    expect((await rest(s.url, ADMIN, "PUT", "/storage/object/private/x", "p", true)).status).toBe(201);
    const out = await rest(s.url, ORDERS, "POST", "/storage/copy", {
      source: "invoices/1.txt",
      destination: "public/1.txt",
    });
    expect(out.status).toBe(403);
    expect(out.body.error).toBe("token 'orders' may not call storage.Copy on 'public/1.txt'");
    const into = await rest(s.url, ORDERS, "POST", "/storage/copy", { source: "private/x", destination: "invoices/x" });
    expect(into.body.error).toBe("token 'orders' may not call storage.Copy on 'private/x'");
    const list = await rest(s.url, ORDERS, "GET", "/storage/list");
    expect((list.body.objects as Array<{ location: string }>).map((o) => o.location)).toEqual(["invoices/1.txt"]);
    expect((await rest(s.url, ORDERS, "GET", "/storage/object/private/x")).status).toBe(403);
  });

  it("filters secret lists and refuses other names", async () => {
    const list = await rest(s.url, ORDERS, "GET", "/secrets/list");
    expect((list.body.secrets as Array<{ name: string }>).map((x) => x.name)).toEqual(["orders/api", "orders/db"]);
    expect((await rest(s.url, ORDERS, "GET", "/secrets/secret/orders/db")).body.value).toBe("v-orders/db");
    expect((await rest(s.url, ORDERS, "GET", "/secrets/secret/users/db")).status).toBe(403);
  });

  it("allows only the listed sender, display names included, and checks every email of a batch", async () => {
    const mail = (from: string) => ({ from, to: ["a@example.com"], subject: "s", text: "t" });
    expect((await rest(s.url, ORDERS, "POST", "/email/send", mail("Orders <noreply@orders.example.com>"))).status).toBe(
      200,
    );
    const r = await rest(s.url, ORDERS, "POST", "/email/send", mail("ceo@orders.example.com"));
    expect(r.status).toBe(403);
    expect(r.body.error).toBe("token 'orders' may not call email.Send on 'ceo@orders.example.com'");
    const batch = await rest(s.url, ORDERS, "POST", "/email/send/batch", {
      emails: [mail("noreply@orders.example.com"), mail("x@evil.example")],
    });
    expect(batch.status).toBe(403);
    expect((await rest(s.url, ADMIN, "POST", "/email/send", mail("other@example.com"))).status).toBe(200);
    const outbox = await rest(s.url, ORDERS, "GET", "/email/outbox");
    expect(JSON.stringify(outbox.body)).toContain("noreply@orders.example.com");
    expect(JSON.stringify(outbox.body)).not.toContain("other@example.com");
    // ClearOutbox names no sender, so a rule with resources cannot allow it.
    expect((await rest(s.url, ORDERS, "DELETE", "/email/outbox")).body.error).toBe(
      "token 'orders' may not call email.ClearOutbox",
    );
  });

  it("limits queues to the listed names", async () => {
    expect((await rest(s.url, ORDERS, "POST", "/queue/push/jobs", { a: 1 })).status).toBe(200);
    expect((await rest(s.url, ORDERS, "POST", "/queue/push/jobs.dlq", { a: 1 })).status).toBe(200);
    const r = await rest(s.url, ORDERS, "POST", "/queue/push/jobsx", { a: 1 });
    expect(r.body.error).toBe("token 'orders' may not call queue.Push on 'jobsx'");
    expect((await rest(s.url, ORDERS, "GET", "/queue/len/jobs")).status).toBe(403);
  });

  it("runs a Query-only token's SQL read-only: a write inside a query is refused by the database", async () => {
    expect(
      (await rest(s.url, ORDERS, "POST", "/sql/query", { sql: "select count(*) as n from t" })).body,
    ).toMatchObject({
      rows: [{ n: 2 }],
    });
    const smuggled = await rest(s.url, ORDERS, "POST", "/sql/query", { sql: "delete from t returning n" });
    expect(smuggled.status).toBe(403);
    expect(smuggled.body.code).toBe("FORBIDDEN");
    expect((await rest(s.url, ORDERS, "POST", "/sql/execute", { sql: "delete from t" })).body.error).toBe(
      "token 'orders' may not call sql.Execute",
    );
    // The same statement as a query from a token that may also write runs as usual.
    const admin = await rest(s.url, ADMIN, "POST", "/sql/query", { sql: "update t set n = n returning n" });
    expect(admin.status).toBe(200);
    expect((await rest(s.url, ADMIN, "POST", "/sql/query", { sql: "select count(*) as n from t" })).body).toMatchObject(
      {
        rows: [{ n: 2 }],
      },
    );
  });

  it("answers 401 to a missing or unknown token and keeps /health open", async () => {
    expect((await rest(s.url, undefined, "GET", "/kv/get/cart%2F1")).status).toBe(401);
    const r = await rest(s.url, "not-a-token", "GET", "/kv/get/cart%2F1");
    expect(r.status).toBe(401);
    expect(r.body.code).toBe("UNAUTHORIZED");
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });
});

describe.each(RPC_KINDS)("the same rules over %s", (kind) => {
  const kv = (token: string) => rpc(s.url, kind, KvService, token);

  it("refuses with PERMISSION_DENIED and the same message", async () => {
    expect(new TextDecoder().decode((await kv(ORDERS).get({ key: "cart/1" })).value)).toBe("cart/1");
    const err = await rpcError(kv(ORDERS).delete({ key: "cart/1" }));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toBe("token 'orders' may not call kv.Delete on 'cart/1'");
    expect((await rpcError(kv(ORDERS).get({ key: "other/1" }))).code).toBe(Code.PermissionDenied);
    expect((await rpcError(kv("nope").get({ key: "cart/1" }))).code).toBe(Code.Unauthenticated);
  });

  it("refuses a batch with one forbidden key and filters Keys", async () => {
    const err = await rpcError(kv(ORDERS).getBatch({ keys: ["cart/1", "other/1"] }));
    expect(err.rawMessage).toBe("token 'orders' may not call kv.GetBatch on 'other/1'");
    const keys = (await kv(ORDERS).keys({ pattern: "*" })).keys.sort();
    expect(keys).toEqual(["cart/1", "cart/2", "cart/a/b/c"]);
  });

  it("applies resource rules to storage, secrets, queue and email", async () => {
    const storage = rpc(s.url, kind, StorageService, ORDERS);
    expect((await rpcError(storage.get({ path: "private/x" }))).code).toBe(Code.PermissionDenied);
    expect((await storage.list({ prefix: "" })).objects.map((o) => o.path)).toEqual(["invoices/1.txt"]);
    const secrets = rpc(s.url, kind, SecretsService, ORDERS);
    expect((await secrets.list({ prefix: "" })).secrets.map((x) => x.name)).toEqual(["orders/api", "orders/db"]);
    expect((await rpcError(secrets.get({ name: "users/db" }))).rawMessage).toBe(
      "token 'orders' may not call secrets.Get on 'users/db'",
    );
    const queue = rpc(s.url, kind, QueueService, ORDERS);
    expect((await rpcError(queue.push({ queue: "other", payload: new TextEncoder().encode("1") }))).code).toBe(
      Code.PermissionDenied,
    );
    const email = rpc(s.url, kind, EmailService, ORDERS);
    const e = await rpcError(
      email.send({ email: { from: "x@evil.example", to: ["a@example.com"], subject: "s", text: "t" } }),
    );
    expect(e.rawMessage).toBe("token 'orders' may not call email.Send on 'x@evil.example'");
  });

  it("runs Query read-only for a Query-only token", async () => {
    const sql = rpc(s.url, kind, SqlService, ORDERS);
    expect((await sql.query({ sql: "select 1 as one" })).rowCount).toBe(1n);
    expect((await rpcError(sql.query({ sql: "delete from t returning n" }))).code).toBe(Code.PermissionDenied);
    expect((await rpcError(sql.execute({ sql: "delete from t" }))).rawMessage).toBe(
      "token 'orders' may not call sql.Execute",
    );
  });
});
