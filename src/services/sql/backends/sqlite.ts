/**
 * SQLite through better-sqlite3 (major 12). The driver is synchronous, so one connection serves everything
 * behind an async lock: a transaction (a batch, a script waiting on its sandbox) holds the lock across awaits
 * and other statements queue behind it. Integers come back as bigint (`safeIntegers`), rows as arrays (`raw`)
 * to keep column order, and `$1…` bind by number (`{1: v}`).
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { SidecarError, sidecarError } from "../../../shared/errors.js";
import { TRANSACTION_CONTROL, TRANSACTION_CONTROL_MESSAGE, leadingKeyword } from "../audit.js";
import {
  taggedText,
  type SqlBackend,
  type RunOptions,
  type SqlBackendOptions,
  type SqlResult,
  type SqlTx,
  type SqlValue,
} from "../backend.js";

const STATEMENT_CACHE = 256;

// SQLite result codes → the SQLSTATE Postgres would report, so clients can branch on one code.
const SQLSTATES: Record<string, string> = {
  SQLITE_CONSTRAINT_UNIQUE: "23505",
  SQLITE_CONSTRAINT_PRIMARYKEY: "23505",
  SQLITE_CONSTRAINT_NOTNULL: "23502",
  SQLITE_CONSTRAINT_FOREIGNKEY: "23503",
  SQLITE_CONSTRAINT_CHECK: "23514",
};

export class SqliteSql implements SqlBackend {
  readonly name = "sqlite";
  private db: Database.Database;
  private cache = new Map<string, Database.Statement>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    path: string,
    private opts: SqlBackendOptions,
  ) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma("foreign_keys = ON");
    this.db.defaultSafeIntegers(true);
  }

  run(sql: string, params: readonly SqlValue[], o: RunOptions = {}): Promise<SqlResult> {
    return this.locked(async () => {
      const r = o.readonly && !this.opts.readonly ? this.queryOnly(sql, params) : this.exec(sql, params);
      // The one connection must never be left inside a transaction, whatever slipped past the keyword check.
      if (this.db.inTransaction) {
        this.exec("ROLLBACK", [], true);
        throw sidecarError("SQL_ERROR", TRANSACTION_CONTROL_MESSAGE);
      }
      return r;
    });
  }

  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    return this.locked(async () => {
      // IMMEDIATE takes the write lock up front, so another process cannot make COMMIT fail with SQLITE_BUSY.
      this.exec(this.opts.readonly ? "BEGIN DEFERRED" : "BEGIN IMMEDIATE", [], true);
      try {
        const result = await fn({ run: async (sql, params) => this.exec(sql, params) });
        this.exec("COMMIT", [], true);
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.exec("ROLLBACK", [], true);
        throw err;
      }
    });
  }

  async ping(): Promise<void> {
    this.db.prepare("SELECT 1").get();
  }

  async close(): Promise<void> {
    await this.tail.catch(() => {});
    this.cache.clear();
    this.db.close();
  }

  /** One statement under `PRAGMA query_only`, for a read-only call on a writable database (inside the lock). */
  private queryOnly(sql: string, params: readonly SqlValue[]): SqlResult {
    this.db.pragma("query_only = ON");
    try {
      return this.exec(sql, params, false, true);
    } finally {
      this.db.pragma("query_only = OFF");
    }
  }

  /** Runs `fn` once every earlier caller is done. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => {});
    return next;
  }

  private exec(sql: string, params: readonly SqlValue[], internal = false, readonly = this.opts.readonly): SqlResult {
    try {
      const stmt = this.prepare(sql);
      if (readonly && !internal && !stmt.readonly) {
        throw sidecarError("FORBIDDEN", "read-only mode: the statement writes to the database");
      }
      if (!internal && TRANSACTION_CONTROL.has(leadingKeyword(sql)))
        throw sidecarError("SQL_ERROR", TRANSACTION_CONTROL_MESSAGE);
      const bind = params.length === 0 ? [] : [Object.fromEntries(params.map((v, i) => [i + 1, toSqlite(v)]))];
      if (!stmt.reader) return { columns: [], rows: [], rowsAffected: stmt.run(...bind).changes };
      const cols = stmt.columns();
      const decl = cols.map((c) => (c.type ?? "").toUpperCase());
      const rows = (stmt.raw(true).all(...bind) as unknown[][]).map((r) => r.map((v, i) => fromSqlite(v, decl[i]!)));
      // A writing statement with RETURNING is a reader too; its changes still count (changes() is only
      // meaningful after a write, so a plain SELECT reports 0).
      const rowsAffected = stmt.readonly ? 0 : Number(this.prepare("SELECT changes()").pluck().get());
      return { columns: cols.map((c) => c.name), rows, rowsAffected };
    } catch (err) {
      throw mapSqliteError(err);
    }
  }

  private prepare(sql: string): Database.Statement {
    let stmt = this.cache.get(sql);
    if (stmt) {
      // Refresh its place in the LRU order.
      this.cache.delete(sql);
    } else {
      stmt = this.db.prepare(sql);
      if (this.cache.size >= STATEMENT_CACHE) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(sql, stmt);
    return stmt;
  }
}

function toSqlite(v: SqlValue): unknown {
  switch (typeof v) {
    case "boolean":
      return v ? 1n : 0n;
    case "bigint":
    case "number":
    case "string":
      return v;
  }
  if (v === null) return null;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return taggedText(v);
}

/**
 * SQLite stores by value, not by column type, so the declared type only refines: BOOLEAN columns holding 0/1
 * read as booleans, JSON columns holding text read as JSON.
 */
function fromSqlite(v: unknown, declared: string): SqlValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return declared.startsWith("BOOL") && (v === 0n || v === 1n) ? v === 1n : v;
  if (typeof v === "string" && declared.startsWith("JSON")) {
    try {
      JSON.parse(v);
      return { json: v };
    } catch {
      return v;
    }
  }
  if (Buffer.isBuffer(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return v as number | string;
}

export function mapSqliteError(err: unknown): SidecarError {
  if (err instanceof SidecarError) return err;
  const e = err as { code?: unknown; message?: string };
  const code = typeof e.code === "string" ? e.code : "";
  if (code.startsWith("SQLITE_")) {
    const sqlstate = SQLSTATES[code];
    const extra: Record<string, unknown> = { sqlite_code: code, ...(sqlstate ? { sqlstate } : {}) };
    if (code === "SQLITE_BUSY" || code === "SQLITE_IOERR" || code === "SQLITE_CANTOPEN") {
      return sidecarError("UNAVAILABLE", `sqlite database is unavailable (${code})`, extra, err);
    }
    if (code === "SQLITE_READONLY") return sidecarError("FORBIDDEN", `${e.message} (${code})`, extra, err);
    return sidecarError(
      code.startsWith("SQLITE_CONSTRAINT") ? "SQL_CONFLICT" : "SQL_ERROR",
      `${e.message} (${code})`,
      extra,
      err,
    );
  }
  // better-sqlite3 reports wrong parameter counts and unsupported values as TypeError/RangeError.
  if (err instanceof TypeError || err instanceof RangeError)
    return sidecarError("SQL_ERROR", e.message ?? "bad statement", {}, err);
  return sidecarError("INTERNAL_ERROR", "internal error", {}, err);
}
