/**
 * The SQL behaviour suite, run against every backend by one small test file each. It drives the service
 * implementation directly with JSON-style values (as REST clients send them) and reads results in the JSON
 * view, so a backend passes only if the whole path — binding, typing, transactions, scripts — behaves.
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pb from "../../gen/mikcar/sql/v1/sql_pb.js";
import { toEnvelope } from "../../src/shared/errors.js";
import { parseExact } from "../../src/shared/exact-json.js";
import type { SqlSettings } from "../../src/services/sql/index.js";
import { pbOfValue, rowObjects, valueOfJson, valueOfPb } from "../../src/services/sql/values.js";
import { describeScriptContract } from "./contract-scripts.js";

export type SqlImpl = ServiceImpl<typeof pb.SqlService>;

export interface SqlTarget {
  impl: SqlImpl;
  close(): Promise<void>;
}

export interface SqlQuirks {
  /** DDL for a table `types_t` with one column per type the backend maps, and the row it should read back. */
  types: { ddl: string; insert: string; expected: Record<string, unknown> };
  /** Column type for an integer primary key and a 64-bit integer. */
  intType: string;
  /** SQLite runs transactions one at a time (one connection), so a second script waits instead of overlapping. */
  serialTransactions?: boolean;
  /** SQLSTATE reported for a missing table, when the backend has SQLSTATEs for it. */
  undefinedTableState?: string;
  /**
   * For the isolation test on backends with concurrent transactions: a statement that blocks while `hold` runs
   * its callback, and a probe telling when a session is blocked on it (Postgres: an advisory lock).
   */
  blocking?: { sql: string; hold(fn: () => Promise<void>): Promise<void>; blocked(): Promise<boolean> };
}

const ctx = {} as HandlerContext;
// Generous time: the memory and stack cases must reach their limit before the clock does on a loaded machine.
const LIMITS = { timeMs: 2_000, memoryBytes: 32 * 1024 * 1024, stackBytes: 256 * 1024 };
const RESULT_LIMITS = { maxRows: 50, maxBytes: 64 * 1024 };
/** `n` rows numbered from 1, in any backend's SQL. */
const numbers = (n: number) =>
  `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) SELECT x FROM c`;

export function describeSqlContract(
  name: string,
  open: (s: Partial<SqlSettings>) => Promise<SqlTarget>,
  quirks: SqlQuirks,
) {
  describe(`SQL contract: ${name}`, () => {
    let t: SqlTarget;
    beforeAll(async () => {
      t = await open({ scripts: LIMITS, scriptWorkers: 2, result: RESULT_LIMITS });
      await exec(`CREATE TABLE items (id ${quirks.intType} PRIMARY KEY, name TEXT NOT NULL, qty ${quirks.intType})`);
      await exec(`CREATE TABLE accounts (id ${quirks.intType} PRIMARY KEY, balance ${quirks.intType} NOT NULL)`);
      await exec(quirks.types.ddl);
      // Start both workers now, so that worker start-up never eats into a script's time limit below.
      await Promise.all([script("1"), script("2")]);
    });
    afterAll(() => t?.close());

    const params = (ps: unknown[]) => ps.map((p, i) => pbOfValue(valueOfJson(p, `params[${i}]`)));
    const query = async (sql: string, ps: unknown[] = []) => {
      const r = await t.impl.query(create(pb.QueryRequestSchema, { sql, params: params(ps) }), ctx);
      return rowObjects(
        r.columns ?? [],
        (r.rows ?? []).map((row) => (row.values ?? []).map((v) => valueOfPb(v))),
      );
    };
    const exec = async (sql: string, ps: unknown[] = []) =>
      (await t.impl.execute(create(pb.ExecuteRequestSchema, { sql, params: params(ps) }), ctx)).rowsAffected;
    const batch = (stmts: Array<[string, unknown[]?]>) =>
      t.impl.batch(
        create(pb.BatchRequestSchema, { statements: stmts.map(([sql, ps]) => ({ sql, params: params(ps ?? []) })) }),
        ctx,
      );
    const script = async (
      code: string,
      input?: unknown,
      inputJson = input === undefined ? "" : JSON.stringify(input),
    ) => {
      const r = await t.impl.script(create(pb.ScriptRequestSchema, { script: code, inputJson }), ctx);
      return { result: parseExact(r.resultJson ?? "null"), queries: r.queriesExecuted };
    };
    const failure = async (p: unknown) => {
      try {
        await p;
      } catch (err) {
        return toEnvelope(err);
      }
      throw new Error("expected a failure");
    };

    describe("statements", () => {
      it("binds $n placeholders and keeps SELECT column order", async () => {
        expect(await exec("INSERT INTO items (id, name, qty) VALUES ($1, $2, $3)", [1, "apple", 3])).toBe(1n);
        expect(await exec("INSERT INTO items (id, name, qty) VALUES ($1, $2, $3)", [2, "pear", null])).toBe(1n);
        const rows = await query("SELECT qty, name, id FROM items WHERE id = $1", [1]);
        expect(rows).toEqual([{ qty: 3n, name: "apple", id: 1n }]);
        expect(Object.keys(rows[0]!)).toEqual(["qty", "name", "id"]);
        expect(await query("SELECT qty FROM items WHERE id = $1", [2])).toEqual([{ qty: null }]);
        expect(await exec("UPDATE items SET qty = $1 WHERE id >= $2", [5, 1])).toBe(2n);
      });

      it("keeps 64-bit integers exact both ways", async () => {
        const big = 9223372036854775807n;
        await exec("INSERT INTO items (id, name, qty) VALUES ($1, $2, $3)", [big, "big", -big - 1n]);
        expect(await query("SELECT id, qty FROM items WHERE id = $1", [big])).toEqual([{ id: big, qty: -big - 1n }]);
      });

      it("maps every column type without turning any into null", async () => {
        await exec(quirks.types.insert);
        const [row] = await query("SELECT * FROM types_t");
        expect(row).toEqual(quirks.types.expected);
      });

      it("reports SQL errors with the database message, constraint violations as conflicts", async () => {
        const missing = await failure(query("SELECT * FROM no_such_table"));
        expect(missing).toMatchObject({ code: "SQL_ERROR", status: 400 });
        expect(missing.error).toMatch(/no_such_table/);
        if (quirks.undefinedTableState) expect(missing.sqlstate).toBe(quirks.undefinedTableState);
        const dup = await failure(exec("INSERT INTO items (id, name) VALUES ($1, $2)", [1, "again"]));
        expect(dup).toMatchObject({ code: "SQL_ERROR", status: 409, sqlstate: "23505" });
      });

      it("counts the rows changed by a statement with RETURNING", async () => {
        expect(await exec("INSERT INTO items (id, name) VALUES ($1, $2) RETURNING id", [40, "r"])).toBe(1n);
        const r = await batch([
          ["UPDATE items SET qty = 7 WHERE id = $1 RETURNING id", [40]],
          ["DELETE FROM items WHERE id = $1 RETURNING id", [40]],
        ]);
        expect(r).toMatchObject({ totalRowsAffected: 2n, rowsAffected: [1n, 1n] });
      });

      it("refuses transaction control, so no transaction is left open or ended early", async () => {
        for (const s of ["BEGIN", " /* c */ begin", "COMMIT", "ROLLBACK"]) {
          expect(await failure(exec(s))).toMatchObject({ code: "SQL_ERROR", status: 400 });
        }
        const err = await failure(
          batch([
            ["INSERT INTO items (id, name) VALUES ($1, $2)", [41, "c"]],
            ["COMMIT"],
            ["INSERT INTO items (id, name) VALUES ($1, $2)", [41, "dup"]],
          ]),
        );
        expect(err).toMatchObject({ status: 400, statement: 1 });
        expect(await query("SELECT id FROM items WHERE id = 41")).toEqual([]);
      });

      it("binds a whole number beyond 2^53 sent as a double as a double", async () => {
        expect(await query("SELECT CAST($1 AS REAL) AS x", [1e20])).toEqual([{ x: 1e20 }]);
      });

      it("refuses an empty statement naming the field", async () => {
        expect(await failure(query("  "))).toMatchObject({ status: 400, error: "sql must not be empty" });
      });
    });

    describe("result limits", () => {
      it("refuses a result over the row limit with 400 naming the limit, and serves one at the limit", async () => {
        expect(await query(numbers(50))).toHaveLength(50);
        const err = await failure(query(numbers(51)));
        expect(err).toMatchObject({ code: "RESULT_TOO_LARGE", status: 400, limit: "max_rows", max_rows: 50 });
        expect(err.error).toMatch(/more than 50 rows/);
        expect(err.error).toMatch(/--sql-max-rows/);
      });

      it("stops reading a huge result at the limit", async () => {
        // Two million rows: read to the end, this takes seconds and hundreds of MiB; refused, it takes the limit.
        expect(await failure(query(numbers(2_000_000)))).toMatchObject({ code: "RESULT_TOO_LARGE", max_rows: 50 });
      });

      it("refuses a result over the size limit", async () => {
        const pad = "x".repeat(2000);
        expect(await query(`SELECT x, CAST($1 AS TEXT) AS pad FROM (${numbers(20)}) AS s`, [pad])).toHaveLength(20);
        const err = await failure(query(`SELECT x, CAST($1 AS TEXT) AS pad FROM (${numbers(40)}) AS s`, [pad]));
        expect(err).toMatchObject({ code: "RESULT_TOO_LARGE", status: 400, limit: "max_result_size" });
        expect(err.error).toMatch(/larger than 64KiB/);
      });

      it("rolls back a write whose RETURNING rows are over the limit, and counts them when only the count is asked", async () => {
        await exec(`CREATE TABLE lim_t (id ${quirks.intType})`);
        const inserting = `INSERT INTO lim_t (id) SELECT x FROM (${numbers(60)}) AS s RETURNING id`;
        const withInsert = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60) INSERT INTO lim_t (id) SELECT x FROM c RETURNING id`;
        for (const sql of [inserting, withInsert]) {
          expect(await failure(query(sql))).toMatchObject({ code: "RESULT_TOO_LARGE", max_rows: 50 });
          expect(await query("SELECT count(*) AS n FROM lim_t")).toEqual([{ n: 0n }]);
        }
        // execute and batch want the count only: no limit applies, nothing is held.
        expect(await exec(inserting)).toBe(60n);
        expect((await batch([[withInsert]])).totalRowsAffected).toBe(60n);
        expect(await query("SELECT count(*) AS n FROM lim_t")).toEqual([{ n: 120n }]);
      });

      it("bounds what a script pulls and what it returns", async () => {
        const pulled = await failure(script(`return sql.query(${JSON.stringify(numbers(2_000_000))}).length`));
        expect(pulled).toMatchObject({ code: "SCRIPT_ERROR", status: 422, query_index: 0 });
        expect(pulled.error).toMatch(/more than 50 rows/);
        const returned = await failure(script(`return "x".repeat(100000)`));
        expect(returned).toMatchObject({ code: "SCRIPT_ERROR", status: 422 });
        expect(returned.error).toMatch(/result is larger than 65536 bytes/);
        const wrote = await failure(
          script(`sql.query("INSERT INTO lim_t (id) SELECT x FROM (${numbers(60)}) AS s RETURNING id"); 1`),
        );
        expect(wrote).toMatchObject({ code: "SCRIPT_ERROR", query_index: 0 });
        expect(await query("SELECT count(*) AS n FROM lim_t")).toEqual([{ n: 120n }]);
      });
    });

    describe("batch", () => {
      it("commits every statement together", async () => {
        const r = await batch([
          ["INSERT INTO items (id, name) VALUES ($1, $2)", [10, "a"]],
          ["INSERT INTO items (id, name) VALUES ($1, $2)", [11, "b"]],
          ["UPDATE items SET qty = 1 WHERE id IN (10, 11)"],
        ]);
        expect(r).toMatchObject({ statementsExecuted: 3n, totalRowsAffected: 4n });
      });

      it("leaves nothing from earlier statements when the third fails", async () => {
        const err = await failure(
          batch([
            ["INSERT INTO items (id, name) VALUES ($1, $2)", [20, "x"]],
            ["INSERT INTO items (id, name) VALUES ($1, $2)", [21, "y"]],
            ["INSERT INTO items (id, name) VALUES ($1, $2)", [20, "duplicate"]],
          ]),
        );
        expect(err).toMatchObject({ status: 409, statement: 2 });
        expect(err.error).toMatch(/^statement 2: /);
        expect(await query("SELECT id FROM items WHERE id IN (20, 21)")).toEqual([]);
      });
    });

    describeScriptContract({
      get t() {
        return t;
      },
      quirks,
      query,
      exec,
      batch,
      script,
      failure,
    });
  });
}
