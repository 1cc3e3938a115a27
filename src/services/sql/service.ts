/**
 * The one implementation of SqlService. RPC handlers and REST rows both call these methods; validation and
 * the mapping between protobuf messages and the backend happen here and nowhere else.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { SqlService, Statement } from "../../../gen/mikcar/sql/v1/sql_pb.js";
import { SidecarError, sidecarError } from "../../shared/errors.js";
import type { SqlBackend, SqlValue } from "./backend.js";
import { pbOfValue, valueOfPb } from "./values.js";
import { runScript } from "./script/run.js";
import type { ScriptPool } from "./script/pool.js";
import { SQL_READ_ONLY } from "./resources.js";

const MAX_SQL_BYTES = 1 << 20;
const MAX_PARAMS = 65_535;
const MAX_STATEMENTS = 1_000;

/** Throws BAD_REQUEST unless `sql` is a usable statement; `field` names it in the message. */
function checkSql(sql: string, field = "sql"): void {
  if (sql.trim() === "") throw sidecarError("BAD_REQUEST", `${field} must not be empty`);
  if (sql.length > MAX_SQL_BYTES)
    throw sidecarError("BAD_REQUEST", `${field} is longer than ${MAX_SQL_BYTES} characters`);
}

function params(values: readonly { kind: unknown }[], field = "params"): SqlValue[] {
  if (values.length > MAX_PARAMS)
    throw sidecarError("BAD_REQUEST", `${field} has ${values.length} entries; the limit is ${MAX_PARAMS}`);
  return (values as Parameters<typeof valueOfPb>[0][]).map(valueOfPb);
}

/** The same error, saying which statement of a batch failed. */
function atStatement(err: unknown, index: number): unknown {
  if (!(err instanceof SidecarError)) return err;
  return new SidecarError(err.kind, `statement ${index}: ${err.rawMessage}`, { ...err.extra, statement: index }, err);
}

export function createSqlService(backend: SqlBackend, scripts: ScriptPool): ServiceImpl<typeof SqlService> {
  return {
    async query(req, ctx) {
      checkSql(req.sql);
      // A policy's Query-only caller (see resources.ts) runs read-only whatever the statement says. Tests that call
      // the implementation directly may pass a bare context without values.
      const r = await backend.run(req.sql, params(req.params), { readonly: ctx?.values?.get(SQL_READ_ONLY) === true });
      return {
        columns: r.columns,
        rows: r.rows.map((row) => ({ values: row.map(pbOfValue) })),
        rowCount: BigInt(r.rows.length),
      };
    },

    async execute(req) {
      checkSql(req.sql);
      const r = await backend.run(req.sql, params(req.params), { discardRows: true });
      return { rowsAffected: BigInt(r.rowsAffected) };
    },

    async batch(req, ctx) {
      const n = req.statements.length;
      if (n === 0) throw sidecarError("BAD_REQUEST", "statements must not be empty");
      if (n > MAX_STATEMENTS)
        throw sidecarError("BAD_REQUEST", `statements has ${n} entries; the limit is ${MAX_STATEMENTS}`);
      const stmts = req.statements.map((s: Statement, i) => {
        checkSql(s.sql, `statements[${i}].sql`);
        return { sql: s.sql, params: params(s.params, `statements[${i}].params`) };
      });
      // A batch whose request has been answered (408, client gone) is rolled back rather than committed.
      const affected = await backend.transaction(
        async (tx) => {
          const out: bigint[] = [];
          for (const [i, s] of stmts.entries()) {
            try {
              out.push(BigInt((await tx.run(s.sql, s.params, { discardRows: true })).rowsAffected));
            } catch (err) {
              throw atStatement(err, i);
            }
          }
          return out;
        },
        { signal: ctx?.signal },
      );
      return {
        statementsExecuted: BigInt(n),
        totalRowsAffected: affected.reduce((a, b) => a + b, 0n),
        rowsAffected: affected,
      };
    },

    async script(req, ctx) {
      if (req.script.trim() === "") throw sidecarError("BAD_REQUEST", "script must not be empty");
      if (req.script.length > MAX_SQL_BYTES)
        throw sidecarError("BAD_REQUEST", `script is longer than ${MAX_SQL_BYTES} characters`);
      const r = await runScript(backend, scripts, req.script, req.inputJson, ctx?.signal);
      return { resultJson: r.resultJson, queriesExecuted: BigInt(r.queries) };
    },
  };
}
