/**
 * A token allowed only `Query` runs its statements read-only on Postgres too (a READ ONLY transaction): writes
 * smuggled into a query — a data-modifying CTE, a function with side effects — are refused by the database.
 * The SQLite side is in rules.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqlService } from "../../../gen/mikcar/sql/v1/sql_pb.js";
import { Code, RPC_KINDS, rest, rpc, rpcError, sha256 } from "../../helpers/policy.js";
import { startSidecar, type RunningSidecar } from "../../helpers/sidecar.js";
import { adminQuery, isolatedSchema, pgAvailable } from "../../sql/pg-helpers.js";

const READER = "pg-reader";
const WRITER = "pg-writer";
const policy = {
  tokens: [
    { id: "reader", sha256: sha256(READER), allow: [{ service: "sql", methods: ["Query"] }] },
    { id: "writer", sha256: sha256(WRITER), allow: [{ service: "sql", methods: ["Query", "Execute"] }] },
  ],
};

describe.runIf(pgAvailable)("Query-only tokens on Postgres", () => {
  let s: RunningSidecar;
  let schema: Awaited<ReturnType<typeof isolatedSchema>>;
  beforeAll(async () => {
    schema = await isolatedSchema();
    await adminQuery(`CREATE TABLE ${schema.schema}.t (n int)`);
    await adminQuery(`INSERT INTO ${schema.schema}.t VALUES (1), (2)`);
    await adminQuery(`CREATE SEQUENCE ${schema.schema}.s`);
    s = await startSidecar({ services: { sql: schema.url }, policy });
  });
  afterAll(async () => {
    await s?.close();
    await schema?.drop();
  });

  const count = async () => (await adminQuery(`SELECT count(*)::int AS n FROM ${schema.schema}.t`)).rows[0].n as number;

  it("refuses a data-modifying CTE and a side-effecting function over REST", async () => {
    expect((await rest(s.url, READER, "POST", "/sql/query", { sql: "select n from t order by n" })).body).toMatchObject(
      {
        rows: [{ n: 1 }, { n: 2 }],
      },
    );
    const cte = await rest(s.url, READER, "POST", "/sql/query", {
      sql: "with d as (delete from t returning n) select n from d",
    });
    expect(cte.status).toBe(403);
    expect(cte.body).toMatchObject({ code: "FORBIDDEN", sqlstate: "25006" });
    const fn = await rest(s.url, READER, "POST", "/sql/query", { sql: "select nextval('s')" });
    expect(fn.status).toBe(403);
    expect(await count()).toBe(2);
    // A token that may also Execute runs the same query as a write.
    const w = await rest(s.url, WRITER, "POST", "/sql/query", {
      sql: "with d as (delete from t where n = 2 returning n) select n from d",
    });
    expect(w.body).toMatchObject({ rows: [{ n: 2 }] });
    expect(await count()).toBe(1);
  });

  it.each(RPC_KINDS)("refuses them over %s", async (kind) => {
    const sql = rpc(s.url, kind, SqlService, READER);
    const err = await rpcError(sql.query({ sql: "with d as (delete from t returning n) select n from d" }));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(await count()).toBe(1);
  });
});
