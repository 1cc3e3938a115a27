/**
 * The SQL backend interface. A backend runs one statement at a time with `$1…` placeholders, inside or outside
 * a transaction, and returns typed values (see `SqlValue`). Validation, auditing and scripts live above it.
 */

/** Exact decimal text as the database prints it (Postgres numeric). */
export interface SqlDecimal {
  readonly decimal: string;
}
/** JSON text (json, jsonb, arrays). */
export interface SqlJson {
  readonly json: string;
}
/** ISO 8601 text (dates, times, timestamps, intervals). */
export interface SqlDatetime {
  readonly datetime: string;
}

/**
 * One value crossing the backend boundary. Integers are always bigint so that 64-bit values stay exact;
 * numbers are doubles; strings are text.
 */
export type SqlValue = null | boolean | bigint | number | string | Uint8Array | SqlDecimal | SqlJson | SqlDatetime;

export interface SqlResult {
  /** Column names in statement order (empty for statements that return no rows). */
  columns: string[];
  rows: SqlValue[][];
  rowsAffected: number;
}

/** How a statement's rows are wanted. */
export interface RunOptions {
  /**
   * Only the count matters (execute, batch): rows a statement returns are read and dropped as they arrive, so
   * `rows` is empty and no result limit applies.
   */
  discardRows?: boolean;
  /** Run this statement read-only, as the backend's `readonly` mode would (a policy's Query-only caller). */
  readonly?: boolean;
}

/** A statement runner bound to one open transaction. */
export interface SqlTx {
  run(sql: string, params: readonly SqlValue[], opts?: RunOptions): Promise<SqlResult>;
}

export interface TransactionOptions {
  /** Run the whole transaction read-only, as the backend's `readonly` mode would. */
  readonly?: boolean;
  /**
   * Aborting it while a statement is in flight ends the transaction at once (the session is ended, which rolls
   * back on the server) — how a script watchdog stops a slow statement. Once it is aborted the transaction never
   * commits: a request that has been answered (408, client gone) leaves nothing behind.
   */
  signal?: AbortSignal;
}

/**
 * What one result may hold. A backend never keeps more than this in memory: it stops reading (and rolls back what
 * the statement did on its own) as soon as a result goes over, and fails with RESULT_TOO_LARGE.
 */
export interface ResultLimits {
  maxRows: number;
  /** Measured as `valueSize` of every value plus its column name, about the size of the REST JSON. */
  maxBytes: number;
}

export interface SqlBackendOptions {
  /** Refuse statements that write (FORBIDDEN). */
  readonly: boolean;
  /** Pool size for client/server databases. */
  poolSize: number;
  /** Per-statement time limit; 0 = none. */
  statementTimeoutMs: number;
  result: ResultLimits;
}

export interface SqlBackend {
  /** Short name shown in health and logs: "postgres", "sqlite". */
  readonly name: string;
  /** One statement, committed on its own. */
  run(sql: string, params: readonly SqlValue[], opts?: RunOptions): Promise<SqlResult>;
  /** Runs `fn` in one transaction: commits when it resolves, rolls back when it rejects. */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>, opts?: TransactionOptions): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function isDecimal(v: SqlValue): v is SqlDecimal {
  return typeof v === "object" && v !== null && "decimal" in v;
}
export function isJson(v: SqlValue): v is SqlJson {
  return typeof v === "object" && v !== null && "json" in v;
}
export function isDatetime(v: SqlValue): v is SqlDatetime {
  return typeof v === "object" && v !== null && "datetime" in v;
}

/** The text a tagged value carries, for backends that bind it as plain text. */
export function taggedText(v: SqlDecimal | SqlJson | SqlDatetime): string {
  return "decimal" in v ? v.decimal : "json" in v ? v.json : v.datetime;
}
