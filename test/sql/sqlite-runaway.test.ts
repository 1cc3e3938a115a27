/**
 * A SQLite statement that never ends must not stop the sidecar: SQLite runs in a process of its own, the rest of
 * the sidecar (health, KV on the same port) keeps answering while it runs, the statement gets the statement
 * timeout's error (SQLSTATE 57014, as on Postgres), and the database works afterwards with its data intact.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseExact } from "../../src/shared/exact-json.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

const RUNAWAY = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c";
const dir = mkdtempSync(join(tmpdir(), "mikcar-sql-"));
let s: RunningSidecar;

beforeAll(async () => {
  s = await startSidecar({
    services: { sql: `sqlite://${join(dir, "app.db")}`, kv: "memory://" },
    serviceOptions: { sql: { "statement-timeout": "1500ms" } },
  });
});
afterAll(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(path: string, body: unknown) {
  const r = await fetch(`${s.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: parseExact(await r.text()) as Record<string, unknown> };
}

/** Resolves once `p` has settled, leaving `settled()` true from then on. */
function track<T>(p: Promise<T>) {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  return { promise: p, settled: () => done };
}

it("keeps answering health and KV while a statement runs away, then times the statement out", async () => {
  expect((await post("/sql/execute", { sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)" })).status).toBe(
    200,
  );
  expect((await post("/sql/execute", { sql: "INSERT INTO notes VALUES (1, 'kept')" })).status).toBe(200);

  const runaway = track(post("/sql/query", { sql: RUNAWAY }));
  // Give the statement time to reach SQLite; on the event loop it would block everything from here on.
  await new Promise((r) => setTimeout(r, 200));
  expect((await fetch(`${s.url}/health`)).status).toBe(200);
  expect((await fetch(`${s.url}/kv/set/k`, { method: "POST", body: "v" })).status).toBe(200);
  expect(await (await fetch(`${s.url}/kv/get/k`)).text()).toBe("v");
  expect(runaway.settled()).toBe(false);

  const r = await runaway.promise;
  expect(r).toMatchObject({ status: 400, body: { code: "SQL_ERROR", sqlstate: "57014" } });
  expect(r.body.error).toMatch(/statement timeout/);

  // The database was reopened and still has its data.
  expect(await post("/sql/query", { sql: "SELECT body FROM notes" })).toEqual({
    status: 200,
    body: { rows: [{ body: "kept" }], row_count: 1 },
  });
});

it("rolls back a batch whose statement runs away, and commits the next one", async () => {
  const r = await post("/sql/batch", {
    statements: [{ sql: "INSERT INTO notes VALUES (2, 'lost')" }, { sql: RUNAWAY }],
  });
  expect(r).toMatchObject({ status: 400, body: { sqlstate: "57014", statement: 1 } });
  expect((await post("/sql/query", { sql: "SELECT count(*) AS n FROM notes" })).body.rows).toEqual([{ n: 1 }]);
  const ok = await post("/sql/batch", { statements: [{ sql: "INSERT INTO notes VALUES (3, 'new')" }] });
  expect(ok.status).toBe(200);
  expect((await post("/sql/query", { sql: "SELECT id FROM notes ORDER BY id" })).body.rows).toEqual([
    { id: 1 },
    { id: 3 },
  ]);
});

it("fails a script whose statement runs away and keeps nothing it wrote", async () => {
  const r = await post("/sql/script", {
    script: `sql.execute("INSERT INTO notes VALUES (4, 'lost')"); sql.query(${JSON.stringify(RUNAWAY)}); 1`,
  });
  expect(r).toMatchObject({ status: 422, body: { code: "SCRIPT_ERROR", query_index: 1, sqlstate: "57014" } });
  expect((await post("/sql/query", { sql: "SELECT count(*) AS n FROM notes WHERE id = 4" })).body.rows).toEqual([
    { n: 0 },
  ]);
});
