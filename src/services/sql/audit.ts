/**
 * Guard rails shared by every backend: the audit log line written for each statement, and the statement
 * fingerprint it carries — the SQL with literals replaced by `?`, so that neither parameter values nor
 * values written inline ever reach the log.
 */
import { createHash } from "node:crypto";
import { toEnvelope } from "../../shared/errors.js";
import type { Logger } from "../../shared/log.js";
import type { RunOptions, SqlBackend, SqlResult, SqlTx, SqlValue } from "./backend.js";

const LEADING_NOISE = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/;
const MAX_SHOWN = 300;

/** The statement with comments, string literals and numbers removed, whitespace collapsed. */
export function normalizeSql(sql: string): string {
  return (
    sql
      .replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, " ")
      .replace(/'(?:[^']|'')*'/g, "?")
      .replace(/\$([A-Za-z_]*)\$[\s\S]*?\$\1\$/g, "?")
      // Numbers, but not placeholders ($1) or digits inside identifiers (t2).
      .replace(/(?<![\w$.])\d+(?:\.\d+)?(?:e[+-]?\d+)?\b/gi, "?")
      .replace(/\s+/g, " ")
      .trim()
  );
}

/** A short stable id of the statement's shape plus its normalized text (truncated). */
export function fingerprint(sql: string): { fingerprint: string; statement: string } {
  const n = normalizeSql(sql);
  const id = createHash("sha1").update(n).digest("hex").slice(0, 16);
  return { fingerprint: id, statement: n.length > MAX_SHOWN ? n.slice(0, MAX_SHOWN) + "…" : n };
}

/** The first keyword of a statement, lower-cased, after comments and whitespace. */
export function leadingKeyword(sql: string): string {
  const m = /^[A-Za-z]+/.exec(sql.replace(LEADING_NOISE, ""));
  return m ? m[0].toLowerCase() : "";
}

/**
 * Keywords that begin, end or split a transaction. Refused in every caller's statement: outside a transaction
 * a BEGIN would leave the connection (a pooled one, or SQLite's only one) inside a transaction that never
 * commits, and inside a batch or script a COMMIT would commit half of it.
 */
export const TRANSACTION_CONTROL = new Set([
  "begin",
  "start",
  "commit",
  "end",
  "rollback",
  "abort",
  "savepoint",
  "release",
]);

/**
 * Keywords a read-only caller may not start a statement with on Postgres: transaction control, and what ends or
 * reconfigures the transaction the backend opened READ ONLY (`SET SESSION CHARACTERISTICS …`).
 */
export const READONLY_REFUSED = new Set([...TRANSACTION_CONTROL, "prepare", "set", "reset", "discard"]);

export const TRANSACTION_CONTROL_MESSAGE =
  "transaction control statements are not allowed; use /sql/batch or /sql/script";

/** Wraps a backend so that every statement, in or out of a transaction, writes one audit line. */
export function auditBackend(backend: SqlBackend, log: Logger): SqlBackend {
  const audited = async (
    sql: string,
    run: () => Promise<SqlResult>,
    scope: string,
    o: RunOptions = {},
  ): Promise<SqlResult> => {
    const start = performance.now();
    try {
      const r = await run();
      log.info("sql.statement", {
        ...fingerprint(sql),
        scope,
        duration_ms: round(performance.now() - start),
        rows: r.columns.length > 0 && !o.discardRows ? r.rows.length : r.rowsAffected,
        ok: true,
      });
      return r;
    } catch (err) {
      const env = toEnvelope(err);
      log.info("sql.statement", {
        ...fingerprint(sql),
        scope,
        duration_ms: round(performance.now() - start),
        ok: false,
        code: env.code,
        ...(typeof env.sqlstate === "string" ? { sqlstate: env.sqlstate } : {}),
      });
      throw err;
    }
  };
  return {
    name: backend.name,
    run: (sql, params, o) => audited(sql, () => backend.run(sql, params, o), "statement", o),
    transaction: (fn, opts) =>
      backend.transaction(
        (tx) =>
          fn({
            run: (sql: string, params: readonly SqlValue[], o?: RunOptions) =>
              audited(sql, () => tx.run(sql, params, o), "transaction", o),
          } satisfies SqlTx),
        opts,
      ),
    ping: () => backend.ping(),
    close: () => backend.close(),
  };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
