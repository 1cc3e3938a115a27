/**
 * Secrets over the wire on the memory backend: mikcar's REST paths and shapes, the same calls over gRPC, the
 * read cache, and the promise that values never reach logs or error bodies.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/shared/log.js";
import { MemorySecrets } from "../../src/services/secrets/backends/memory.js";
import { SecretCache } from "../../src/services/secrets/cache.js";
import { createSecretsService } from "../../src/services/secrets/service.js";
import { create } from "@bufbuild/protobuf";
import * as pb from "../../gen/mikcar/secrets/v1/secrets_pb.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";
import { startVaultFake, type VaultFake } from "./fakes/vault-server.js";

const VALUE = "s3cr3t-VALUE-never-logged";
const logs: string[] = [];
let s: RunningSidecar;
let vault: VaultFake;
beforeAll(async () => {
  vault = await startVaultFake({ token: "t0k" });
  s = await startSidecar({
    services: { secrets: "memory://" },
    log: createLogger("debug", (line) => logs.push(line)),
  });
});
afterAll(async () => {
  await s.close();
  await vault.stop();
});

const call = (path: string, init?: RequestInit) => fetch(s.url + path, init);
const body = (v: unknown) => ({ headers: { "content-type": "application/json" }, body: JSON.stringify(v) });

describe("secrets REST", () => {
  it("creates, reads, updates, lists and deletes with mikcar's shapes", async () => {
    let r = await call("/secrets/secret/db/password", {
      method: "POST",
      ...body({ value: VALUE, labels: { team: "a" } }),
    });
    expect(r.status).toBe(201);
    expect(await r.json()).toEqual({ status: "created", name: "db/password", version: "1" });

    r = await call("/secrets/secret/db/password");
    const got = (await r.json()) as { created_at: string };
    expect(got).toEqual({
      value: VALUE,
      version: "1",
      created_at: expect.any(String),
      updated_at: expect.any(String),
      labels: { team: "a" },
    });

    r = await call("/secrets/secret/db/password", { method: "PUT", ...body({ value: "v2" }) });
    expect(await r.json()).toEqual({ status: "updated", name: "db/password", version: "2" });
    expect(await (await call("/secrets/secret/db/password?version=1")).json()).toMatchObject({
      value: VALUE,
      version: "1",
    });

    expect(await (await call("/secrets/exists/db/password")).json()).toEqual({ exists: true, name: "db/password" });
    // The shared router drops a trailing "/", so a folder prefix is written with %2F.
    const list = await (await call("/secrets/list/db%2F")).json();
    expect(list).toEqual({
      secrets: [{ name: "db/password", version: "2", created_at: got.created_at, updated_at: expect.any(String) }],
      count: 1,
      prefix: "db/",
    });
    expect(((await (await call("/secrets/list")).json()) as { count: number }).count).toBe(1);
    // A trailing slash is part of the prefix, as in mikcar: "db/" is a folder, so "dbx" would not match.
    expect(await (await call("/secrets/list/db/")).json()).toEqual(list);

    r = await call("/secrets/secret/db/password", { method: "DELETE" });
    expect(await r.json()).toEqual({ status: "deleted", name: "db/password" });
    r = await call("/secrets/secret/db/password", { method: "DELETE" });
    expect(r.status).toBe(404);
    expect(await (await call("/secrets/exists/db/password")).json()).toEqual({ exists: false, name: "db/password" });
  });

  it("answers clear 4xx envelopes", async () => {
    await call("/secrets/secret/dup", { method: "POST", ...body({ value: VALUE }) });
    let r = await call("/secrets/secret/dup", { method: "POST", ...body({ value: VALUE }) });
    expect(r.status).toBe(409);
    expect(await r.json()).toEqual({ code: "CONFLICT", error: "secret already exists: dup", status: 409 });
    r = await call("/secrets/secret/x", { method: "POST", ...body({ value: 5 }) });
    expect(await r.json()).toMatchObject({ status: 400, error: "field value is required and must be a string" });
    r = await call("/secrets/secret/dup", { method: "PUT", ...body({ value: "x", labels: { a: "b" } }) });
    expect(await r.json()).toMatchObject({ status: 400, error: expect.stringMatching(/^field labels/) });
    r = await call("/secrets/secret/missing");
    expect(await r.json()).toEqual({ code: "NOT_FOUND", error: "secret not found: missing", status: 404 });
    r = await call("/secrets/secret/a%2F%2Fb");
    expect(r.status).toBe(400);
    r = await call("/secrets/secret/x", { method: "POST", body: "{}" });
    expect(r.status).toBe(415);
  });

  it("serves the same operations over gRPC", async () => {
    const client = createClient(pb.SecretsService, createGrpcTransport({ baseUrl: s.url }));
    await client.create({ name: "rpc/one", value: VALUE, labels: { k: "v" } });
    const res = await client.get({ name: "rpc/one" });
    expect(res.secret).toMatchObject({ value: VALUE, version: "1", labels: { k: "v" } });
    expect((await client.list({ prefix: "rpc/" })).secrets.map((x) => x.name)).toEqual(["rpc/one"]);
    await expect(client.get({ name: "rpc/none" })).rejects.toMatchObject({ rawMessage: "secret not found: rpc/none" });
  });

  it("never writes a value into logs or error bodies, even when the backend fails", async () => {
    const down = await startSidecar({
      services: { secrets: `vault://127.0.0.1:${vault.port}?token=t0k` },
      log: createLogger("debug", (line) => logs.push(line)),
    });
    try {
      await vault.stop();
      const r = await fetch(down.url + "/secrets/secret/x", { method: "POST", ...body({ value: VALUE }) });
      expect(r.status).toBe(503);
      const text = await r.text();
      expect(text).not.toContain(VALUE);
      await vault.start();
      expect((await fetch(down.url + "/secrets/secret/x", { method: "POST", ...body({ value: VALUE }) })).status).toBe(
        201,
      );
      expect(await (await fetch(down.url + "/secrets/secret/x")).json()).toMatchObject({ value: VALUE });
    } finally {
      await down.close();
    }
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join("\n")).not.toContain(VALUE);
  });
});

describe("secrets read cache", () => {
  it("serves reads from the cache until the TTL passes; own writes refresh at once", async () => {
    let now = 0;
    const backend = new MemorySecrets();
    const cache = new SecretCache({ ttlMs: 1000, now: () => now });
    let reads = 0;
    const counted = Object.assign(Object.create(backend) as MemorySecrets, {
      get: (n: string, v: string) => {
        reads++;
        return backend.get(n, v);
      },
    });
    const svc = createSecretsService(counted, cache);
    const ctx = {} as never;
    const get = async () => (await svc.get(create(pb.GetRequestSchema, { name: "k" }), ctx)).secret!.value;
    await svc.create(create(pb.CreateRequestSchema, { name: "k", value: "a" }), ctx);
    expect(await get()).toBe("a");
    expect(await get()).toBe("a");
    expect(reads).toBe(1);
    await backend.update("k", "changed elsewhere");
    expect(await get()).toBe("a");
    now = 1001;
    expect(await get()).toBe("changed elsewhere");
    await svc.update(create(pb.UpdateRequestSchema, { name: "k", value: "mine" }), ctx);
    expect(await get()).toBe("mine");
    await svc.delete(create(pb.DeleteRequestSchema, { name: "k" }), ctx);
    await expect(get()).rejects.toMatchObject({ rawMessage: "secret not found: k" });
  });

  it("is switched on by the cache-ttl option", async () => {
    const c = await startSidecar({
      services: { secrets: "memory://" },
      serviceOptions: { secrets: { "cache-ttl": "30s" } },
    });
    try {
      await fetch(c.url + "/secrets/secret/a", { method: "POST", ...body({ value: "1" }) });
      expect(await (await fetch(c.url + "/secrets/secret/a")).json()).toMatchObject({ value: "1" });
    } finally {
      await c.close();
    }
  });
});
