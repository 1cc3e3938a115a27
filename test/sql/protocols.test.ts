/**
 * The SQL service over the wire: REST (HTTP/1.1 fetch) and gRPC (h2c) on one sidecar backed by a SQLite temp
 * file, plus the guard rails: the server keeps answering while a runaway script runs, read-only mode, and the
 * audit log (fingerprints, never parameter values).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqlService } from "../../gen/mikcar/sql/v1/sql_pb.js";
import { createLogger } from "../../src/shared/log.js";
import { parseExact } from "../../src/shared/exact-json.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

const dir = mkdtempSync(join(tmpdir(), "mikcar-sql-"));
const lines: string[] = [];
let s: RunningSidecar;
let ro: RunningSidecar;

beforeAll(async () => {
  const db = `sqlite://${join(dir, "app.db")}`;
  s = await startSidecar({
    services: { sql: db },
    serviceOptions: { sql: { "script-timeout": "1500", "script-workers": "2" } },
    log: createLogger("info", (l) => lines.push(l)),
  });
  ro = await startSidecar({ services: { sql: db }, serviceOptions: { sql: { readonly: true } } });
});
afterAll(async () => {
  await Promise.all([s?.close(), ro?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

async function post(path: string, body: unknown, base = s) {
  const r = await fetch(`${base.url}/sql${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: r.status, body: parseExact(await r.text()) as Record<string, unknown> };
}

describe("SQL over REST", () => {
  it("creates, fills and reads a table with exact 64-bit integers", async () => {
    expect(
      await post("/execute", {
        sql: "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER NOT NULL)",
      }),
    ).toEqual({
      status: 200,
      body: { rows_affected: 0 },
    });
    // Written by hand: JSON.stringify would round the big id before it left the client.
    const insert =
      '{"sql":"INSERT INTO accounts VALUES ($1, $2, $3), (2, \'bob\', 50)","params":[9223372036854775807,"ann",100]}';
    expect(await post("/execute", insert)).toEqual({ status: 200, body: { rows_affected: 2 } });
    const r = await fetch(`${s.url}/sql/query`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sql: "SELECT balance, id FROM accounts ORDER BY owner" }),
    });
    expect(await r.text()).toBe(
      '{"rows":[{"balance":100,"id":9223372036854775807},{"balance":50,"id":2}],"row_count":2}',
    );
  });

  it("runs a batch and reports the failing statement of a rolled-back one", async () => {
    const ok = await post("/batch", {
      statements: [
        { sql: "UPDATE accounts SET balance = balance + 1" },
        { sql: "UPDATE accounts SET balance = balance - 1 WHERE id = $1", params: [2] },
      ],
    });
    expect(ok).toEqual({ status: 200, body: { statements_executed: 2, status: "ok", total_rows_affected: 3 } });
    const bad = await post("/batch", {
      statements: [{ sql: "UPDATE accounts SET balance = 0" }, { sql: "INSERT INTO accounts VALUES (2, 'dup', 1)" }],
    });
    expect(bad.status).toBe(409);
    expect(bad.body).toMatchObject({ code: "SQL_ERROR", statement: 1, sqlstate: "23505" });
    expect((await post("/query", { sql: "SELECT sum(balance) AS total FROM accounts" })).body.rows).toEqual([
      { total: 151 },
    ]);
  });

  it("runs a script with input and returns its result", async () => {
    const r = await post("/script", {
      script:
        "export default async function (input) { const rows = await sql.query('SELECT owner FROM accounts WHERE id = $1', [input.id]); return rows[0].owner }",
      input: { id: 2 },
    });
    expect(r).toEqual({ status: 200, body: { result: "bob", queries_executed: 1 } });
    const err = await post("/script", { script: "throw new Error('nope')" });
    expect(err).toEqual({ status: 422, body: { code: "SCRIPT_ERROR", error: "nope", reason: "error", status: 422 } });
  });

  it("answers bad requests with envelopes naming the field", async () => {
    expect(await post("/query", { params: [] })).toMatchObject({
      status: 400,
      body: { error: "field sql must be a string" },
    });
    expect(await post("/query", { sql: "SELECT 1", params: 3 })).toMatchObject({
      status: 400,
      body: { error: "field params must be an array" },
    });
    expect(await post("/batch", { statements: [{ sql: 1 }] })).toMatchObject({
      status: 400,
      body: { error: "field statements[0].sql must be a string" },
    });
    expect(await post("/query", { sql: "SELEC 1" })).toMatchObject({ status: 400, body: { code: "SQL_ERROR" } });
    const r = await fetch(`${s.url}/sql/query`, { method: "POST", body: "{}" });
    expect(r.status).toBe(415);
  });

  it("keeps serving other requests while a runaway script runs, then stops it", async () => {
    const runaway = post("/script", { script: "while (true) {}" });
    let settled = false;
    void runaway.then(() => (settled = true));
    const q = await post("/query", { sql: "SELECT count(*) AS n FROM accounts" });
    expect(q.status).toBe(200);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
    expect(settled).toBe(false);
    expect(await runaway).toMatchObject({ status: 422, body: { reason: "timeout" } });
  });

  it("refuses writes in read-only mode and still reads", async () => {
    expect(await post("/execute", { sql: "DELETE FROM accounts" }, ro)).toMatchObject({
      status: 403,
      body: { code: "FORBIDDEN" },
    });
    expect(await post("/query", { sql: "SELECT count(*) AS n FROM accounts" }, ro)).toMatchObject({
      status: 200,
      body: { rows: [{ n: 2 }] },
    });
    const script = await post("/script", { script: "sql.execute('DELETE FROM accounts')" }, ro);
    expect(script).toMatchObject({ status: 422, body: { query_index: 0 } });
  });

  it("writes an audit line per statement with a fingerprint and no parameter values", async () => {
    await post("/query", {
      sql: "SELECT owner FROM accounts WHERE owner = $1 OR owner = 'literal-secret'",
      params: ["param-secret"],
    });
    const audit = lines.filter((l) => l.includes('"sql.statement"')).map((l) => JSON.parse(l));
    const mine = audit.find((a) => String(a.statement).includes("owner = $1"));
    expect(mine).toMatchObject({
      statement: "SELECT owner FROM accounts WHERE owner = $1 OR owner = ?",
      rows: 0,
      ok: true,
    });
    expect(mine.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(typeof mine.duration_ms).toBe("number");
    expect(lines.join("\n")).not.toMatch(/param-secret|literal-secret/);
  });
});

describe("SQL over gRPC", () => {
  it("queries with typed values and runs scripts", async () => {
    const client = createClient(SqlService, createGrpcTransport({ baseUrl: s.url }));
    const r = await client.query({
      sql: "SELECT id, owner FROM accounts WHERE id = $1",
      params: [{ kind: { case: "intValue", value: 9223372036854775807n } }],
    });
    expect(r.columns).toEqual(["id", "owner"]);
    expect(r.rows[0]!.values.map((v) => v.kind.value)).toEqual([9223372036854775807n, "ann"]);
    const e = await client.execute({
      sql: "UPDATE accounts SET balance = balance WHERE id > $1",
      params: [{ kind: { case: "intValue", value: 0n } }],
    });
    expect(e.rowsAffected).toBe(2n);
    const sc = await client.script({ script: "return input.n + 1n", inputJson: '{"n": 9007199254740993}' });
    expect(sc).toMatchObject({ resultJson: "9007199254740994", queriesExecuted: 0n });
    await expect(client.script({ script: "throw new Error('bad')" })).rejects.toMatchObject({ rawMessage: "bad" });
  });
});
