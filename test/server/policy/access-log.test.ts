/**
 * The access log: one JSON line per request, allowed, denied, rate-limited or unauthenticated, over REST and
 * RPC, with the token id, service, method and the names touched — never values — plus protocol, status, code,
 * duration and bytes; to a function, and to a file.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvService } from "../../../gen/mikcar/kv/v1/kv_pb.js";
import { RPC_KINDS, rest, rpc, rpcError, sha256 } from "../../helpers/policy.js";
import { startSidecar, type RunningSidecar } from "../../helpers/sidecar.js";

const TOKEN = "logged-token";
const policy = {
  tokens: [
    {
      id: "logged",
      sha256: sha256(TOKEN),
      rate: { per_second: 0.01, burst: 7 },
      allow: [{ service: "kv", methods: ["Get", "Set", "GetBatch"], resources: ["cart/*"] }],
    },
  ],
};
const dir = mkdtempSync(join(tmpdir(), "mikcar-access-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Line = Record<string, unknown>;

describe("access log", () => {
  let s: RunningSidecar;
  const lines: Line[] = [];
  beforeAll(async () => {
    s = await startSidecar({ services: { kv: "memory://" }, policy, accessLog: (l) => lines.push(JSON.parse(l)) });
  });
  afterAll(() => s.close());

  const last = async () => {
    // The line is written when the response closes, which may be just after the client has read it.
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    return lines.splice(0).at(-1)!;
  };

  it("logs allowed, denied, unauthenticated and rate-limited REST calls, without values", async () => {
    await rest(s.url, TOKEN, "POST", "/kv/set/cart%2F1", "secret-value-123", true);
    const set = await last();
    expect(set).toMatchObject({
      token: "logged",
      service: "kv",
      method: "Set",
      resources: ["cart/1"],
      protocol: "rest",
      http_method: "POST",
      status: 200,
      code: "OK",
      bytes_in: 16,
    });
    expect(set.bytes_out).toBeGreaterThan(0);
    expect(typeof set.duration_ms).toBe("number");
    expect(typeof set.trace_id).toBe("string");
    expect(JSON.stringify(set)).not.toContain("secret-value-123");

    await rest(s.url, TOKEN, "GET", "/kv/get/other");
    expect(await last()).toMatchObject({
      token: "logged",
      method: "Get",
      resources: ["other"],
      status: 403,
      code: "PERMISSION_DENIED",
    });

    await rest(s.url, "wrong", "GET", "/kv/get/cart%2F1");
    expect(await last()).toMatchObject({ token: null, service: "kv", status: 401, code: "UNAUTHORIZED" });

    await rest(s.url, TOKEN, "POST", "/kv/get/batch", { keys: ["cart/1", "cart/2"] });
    expect(await last()).toMatchObject({ method: "GetBatch", resources: ["cart/1", "cart/2"], status: 200 });
  });

  it("logs RPC calls with their protocol and code", async () => {
    for (const kind of RPC_KINDS) {
      const kv = rpc(s.url, kind, KvService, TOKEN);
      await kv.get({ key: "cart/1" });
      expect(await last()).toMatchObject({
        token: "logged",
        service: "kv",
        method: "Get",
        resources: ["cart/1"],
        protocol: kind,
        status: 200,
        code: "OK",
      });
      await rpcError(kv.get({ key: "nope" }));
      expect(await last()).toMatchObject({
        method: "Get",
        resources: ["nope"],
        protocol: kind,
        code: "PERMISSION_DENIED",
      });
    }
    // The burst (7) is used up by now: seven calls above were admitted.
    await rest(s.url, TOKEN, "GET", "/kv/get/cart%2F1");
    expect(await last()).toMatchObject({ token: "logged", status: 429, code: "RESOURCE_EXHAUSTED" });
  });
});

it("writes to a file", async () => {
  const file = join(dir, "access.log");
  const s = await startSidecar({ services: { kv: "memory://" }, accessLog: file });
  await rest(s.url, undefined, "POST", "/kv/set/a", "v", true);
  await rest(s.url, undefined, "GET", "/kv/get/a");
  await s.close();
  const got = readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Line);
  expect(got.map((l) => [l.token, l.method, l.status])).toEqual([
    ["anonymous", "Set", 200],
    ["anonymous", "Get", 200],
  ]);
});
