/**
 * The process that owns the SQLite connection (better-sqlite3 12), started by sqlite.ts. better-sqlite3 is
 * synchronous and a statement cannot be interrupted from outside — not even by terminating a worker thread, which
 * waits for the native call to return — so the connection lives in a process of its own, where a statement that
 * runs past its time is stopped by killing the process, and the rest of the sidecar never waits on it.
 *
 * Integers come back as bigint (`safeIntegers`), rows as arrays (`raw`) to keep column order, `$1…` bind by
 * number (`{1: v}`). Messages use the "advanced" (structured clone) serialization, so bigint and bytes cross
 * exactly.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { type ErrorKindName, ErrorKinds, SidecarError, sidecarError } from "../../../shared/errors.js";
import { TRANSACTION_CONTROL, TRANSACTION_CONTROL_MESSAGE, leadingKeyword } from "../audit.js";
import { type ResultLimits, type SqlResult, type SqlValue, taggedText } from "../backend.js";
import { ResultBudget, valueSize } from "../result-limit.js";

export interface OpenRequest {
  op: "open";
  path: string;
  readonly: boolean;
  result: ResultLimits;
}

export interface ExecRequest {
  op: "exec";
  id: number;
  sql: string;
  params: SqlValue[];
  /** Ours (BEGIN, COMMIT, a probe): skips the caller's checks. */
  internal: boolean;
  discardRows: boolean;
  /** Outside a transaction of the caller's: the connection must be out of any transaction afterwards. */
  autocommit: boolean;
  /** This call runs read-only (a policy's Query-only caller) on a writable database: under `PRAGMA query_only`. */
  readonly?: boolean;
}

export type HostRequest = OpenRequest | ExecRequest;

export interface HostFailure {
  kind: ErrorKindName;
  message: string;
  extra: Record<string, unknown>;
}

export type HostReply =
  | { op: "opened"; ok: true }
  | { op: "opened"; ok: false; error: HostFailure }
  | { op: "result"; id: number; ok: true; result: SqlResult }
  | { op: "result"; id: number; ok: false; error: HostFailure };

const STATEMENT_CACHE = 256;

// SQLite result codes → the SQLSTATE Postgres would report, so clients can branch on one code.
const SQLSTATES: Record<string, string> = {
  SQLITE_CONSTRAINT_UNIQUE: "23505",
  SQLITE_CONSTRAINT_PRIMARYKEY: "23505",
  SQLITE_CONSTRAINT_NOTNULL: "23502",
  SQLITE_CONSTRAINT_FOREIGNKEY: "23503",
  SQLITE_CONSTRAINT_CHECK: "23514",
};

class Connection {
  private db: Database.Database;
  private cache = new Map<string, Database.Statement>();

  constructor(
    path: string,
    private readonly readonly: boolean,
    private readonly limits: ResultLimits,
  ) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma("foreign_keys = ON");
    this.db.defaultSafeIntegers(true);
  }

  exec(r: ExecRequest): SqlResult {
    const queryOnly = r.readonly === true && !this.readonly;
    try {
      if (queryOnly) this.db.pragma("query_only = ON");
      const result = this.statement(r);
      // The one connection must never be left inside a transaction, whatever slipped past the keyword check.
      if (r.autocommit && this.db.inTransaction) {
        this.db.exec("ROLLBACK");
        throw sidecarError("SQL_ERROR", TRANSACTION_CONTROL_MESSAGE);
      }
      return result;
    } catch (err) {
      if (r.autocommit && this.db.inTransaction) this.db.exec("ROLLBACK");
      throw mapSqliteError(err);
    } finally {
      if (queryOnly) this.db.pragma("query_only = OFF");
    }
  }

  private statement({ sql, params, internal, discardRows, readonly }: ExecRequest): SqlResult {
    const stmt = this.prepare(sql);
    if ((this.readonly || readonly) && !internal && !stmt.readonly) {
      throw sidecarError("FORBIDDEN", "read-only mode: the statement writes to the database");
    }
    if (!internal && TRANSACTION_CONTROL.has(leadingKeyword(sql))) {
      throw sidecarError("SQL_ERROR", TRANSACTION_CONTROL_MESSAGE);
    }
    const bind = params.length === 0 ? [] : [Object.fromEntries(params.map((v, i) => [i + 1, toSqlite(v)]))];
    if (!stmt.reader) return { columns: [], rows: [], rowsAffected: stmt.run(...bind).changes };
    const cols = stmt.columns();
    const decl = cols.map((c) => (c.type ?? "").toUpperCase());
    const rows: SqlValue[][] = [];
    // A write with RETURNING makes all its changes at the first step; when its rows are over the limit, what it
    // wrote on its own must not stay, so it runs inside a transaction of its own here.
    const own = !stmt.readonly && !discardRows && !this.db.inTransaction;
    if (own) this.db.exec("BEGIN IMMEDIATE");
    const budget = new ResultBudget(this.limits);
    budget.columns(cols.map((c) => c.name));
    // Iterated, not `all()`: no more than the limit is ever read (leaving the loop resets the statement).
    for (const raw of stmt.raw(true).iterate(...bind) as IterableIterator<unknown[]>) {
      if (discardRows) continue;
      let size = 0;
      for (const v of raw) size += valueSize(v);
      if (!budget.add(size)) break;
      rows.push(raw.map((v, i) => fromSqlite(v, decl[i]!)));
    }
    if (budget.over) {
      if (own) this.db.exec("ROLLBACK");
      throw budget.error();
    }
    // A writing statement with RETURNING is a reader too; its changes still count (changes() is only
    // meaningful after a write, so a plain SELECT reports 0).
    const rowsAffected = stmt.readonly ? 0 : Number(this.prepare("SELECT changes()").pluck().get());
    if (own) this.db.exec("COMMIT");
    return { columns: cols.map((c) => c.name), rows, rowsAffected };
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

/** The error as data for the parent, which rebuilds the same SidecarError. */
function failure(err: unknown): HostFailure {
  const e = mapSqliteError(err);
  const kind = (Object.keys(ErrorKinds) as ErrorKindName[]).find((k) => ErrorKinds[k] === e.kind) ?? "INTERNAL_ERROR";
  return { kind, message: e.rawMessage, extra: e.extra };
}

/**
 * Ends this process when its parent is gone. A thread of its own, because the main thread may be inside a
 * statement that never returns, and such an orphan would keep a core busy forever.
 */
function exitWithParent(): void {
  const parent = process.ppid;
  const watch = new Worker(
    `const { parent } = require("node:worker_threads").workerData;
     setInterval(() => { if (process.ppid !== parent) process.kill(process.pid, "SIGKILL"); }, 1000);`,
    { eval: true, workerData: { parent } },
  );
  watch.unref();
}

if (process.send) {
  let conn: Connection | undefined;
  const send = (m: HostReply) => process.send!(m);
  process.on("disconnect", () => process.exit(0));
  process.on("message", (m: HostRequest) => {
    if (m.op === "open") {
      try {
        conn = new Connection(m.path, m.readonly, m.result);
        send({ op: "opened", ok: true });
      } catch (err) {
        send({ op: "opened", ok: false, error: failure(err) });
      }
      return;
    }
    try {
      send({ op: "result", id: m.id, ok: true, result: conn!.exec(m) });
    } catch (err) {
      send({ op: "result", id: m.id, ok: false, error: failure(err) });
    }
  });
  exitWithParent();
}
