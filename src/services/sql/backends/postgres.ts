/**
 * Postgres through a `pg` pool. Connections are made lazily (the sidecar starts while the database is down)
 * and a checkout is retried briefly, so a database that comes back is used again without a restart. Every
 * statement uses the extended protocol (one statement per call, parameters never spliced into SQL) and
 * `rowMode: "array"` so duplicate column names and column order survive.
 */
import pg from "pg";
import { SidecarError, sidecarError } from "../../../shared/errors.js";
import { READONLY_REFUSED, TRANSACTION_CONTROL, TRANSACTION_CONTROL_MESSAGE, leadingKeyword } from "../audit.js";
import {
  taggedText,
  type RunOptions,
  type SqlBackend,
  type SqlBackendOptions,
  type SqlResult,
  type SqlTx,
  type SqlValue,
  type TransactionOptions,
} from "../backend.js";
import { BoundedQuery } from "./postgres-query.js";
import { arrayOf, converterFor, isBuiltin, type Convert } from "./postgres-types.js";

// Leave every value as the text Postgres printed; postgres-types.ts converts by OID in one place.
const RAW_TYPES = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
const CONNECT_ATTEMPTS = 3;
// Connection-level failures: the database is down or went away, as opposed to a bad statement.
const UNAVAILABLE_SQLSTATES = new Set([
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
  "57P01",
  "57P02",
  "57P03",
  "53300",
]);
const UNAVAILABLE_ERRNOS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EPIPE",
  "EAI_AGAIN",
]);

export class PostgresSql implements SqlBackend {
  readonly name = "postgres";
  private pool: pg.Pool;
  private config: pg.PoolConfig;
  private begin: string;
  private beginReadOnly: string;
  /** Converters for column types found in pg_type (enums, arrays of them, extension types), by OID. */
  private types = new Map<number, Convert>();

  constructor(
    url: string,
    private opts: SqlBackendOptions,
  ) {
    const u = new URL(url);
    if (u.protocol === "postgresql:") u.protocol = "postgres:";
    // Our session settings are appended to any the URL gives (pg would let the URL's replace ours).
    const userOptions = u.searchParams.get("options") ?? "";
    u.searchParams.delete("options");
    const settings = ["-c TimeZone=UTC", "-c DateStyle=ISO", "-c IntervalStyle=iso_8601", "-c bytea_output=hex"];
    if (opts.statementTimeoutMs > 0) settings.push(`-c statement_timeout=${opts.statementTimeoutMs}`);
    if (opts.readonly) settings.push("-c default_transaction_read_only=on");
    this.config = {
      connectionString: u.toString(),
      options: [userOptions, ...settings].filter(Boolean).join(" "),
      types: RAW_TYPES,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
    };
    this.pool = new pg.Pool({ ...this.config, max: opts.poolSize });
    // An idle connection that dies (server restart) is dropped by the pool; without a listener it would crash us.
    this.pool.on("error", () => {});
    // Same for a checked-out connection that drops between statements: its next query reports the failure.
    this.pool.on("connect", (client) => client.on("error", () => {}));
    // The SELECT takes the transaction's snapshot, after which a read-only transaction can no longer be made
    // read-write; set_config(…, true) is SET LOCAL, so a script's own SET cannot outlive it.
    const timeout = opts.statementTimeoutMs > 0 ? String(opts.statementTimeoutMs) : "0";
    this.begin = `BEGIN${opts.readonly ? " READ ONLY" : ""}; SELECT set_config('statement_timeout', '${timeout}', true)`;
    this.beginReadOnly = `BEGIN READ ONLY; SELECT set_config('statement_timeout', '${timeout}', true)`;
  }

  async run(sql: string, params: readonly SqlValue[], opts: RunOptions = {}): Promise<SqlResult> {
    if (this.opts.readonly || opts.readonly)
      return this.transaction((tx) => tx.run(sql, params, opts), { readonly: true });
    return this.withClient(async (c, markBroken) => {
      const r = await this.exec(c, sql, params, opts, false);
      // Whatever slipped past the keyword check, a connection inside a transaction never goes back to the pool.
      if (c.getTransactionStatus() !== "I") {
        markBroken();
        throw sidecarError("SQL_ERROR", TRANSACTION_CONTROL_MESSAGE);
      }
      return r;
    });
  }

  async transaction<T>(fn: (tx: SqlTx) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    const { signal } = opts;
    if (signal?.aborted) throw abortReason(signal);
    return this.withClient(async (c, markBroken) => {
      const onAbort = () => {
        markBroken();
        void this.terminate(c);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        const readonly = this.opts.readonly || opts.readonly === true;
        await control(c, readonly ? this.beginReadOnly : this.begin);
        const result = await fn({
          run: (sql, params, o = {}) => this.exec(c, sql, params, readonly ? { ...o, readonly } : o, true),
        });
        // The caller gave up (its request was answered) while the last statement ran: roll back, never commit.
        if (signal?.aborted) throw abortReason(signal);
        await control(c, "COMMIT");
        return result;
      } catch (err) {
        if (!signal?.aborted) await c.query("ROLLBACK").catch(markBroken);
        throw err;
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
    });
  }

  async ping(): Promise<void> {
    await this.withClient((c) => control(c, "SELECT 1"));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async exec(
    c: pg.PoolClient,
    sql: string,
    params: readonly SqlValue[],
    opts: RunOptions,
    inTransaction: boolean,
  ): Promise<SqlResult> {
    const keyword = leadingKeyword(sql);
    if ((this.opts.readonly || opts.readonly) && READONLY_REFUSED.has(keyword)) {
      throw sidecarError("FORBIDDEN", `read-only mode: ${keyword.toUpperCase()} statements are not allowed`);
    }
    if (TRANSACTION_CONTROL.has(keyword)) throw sidecarError("SQL_ERROR", TRANSACTION_CONTROL_MESSAGE);
    const discardRows = !!opts.discardRows;
    const q = new BoundedQuery(sql, params.map(toPg), {
      discardRows,
      limits: this.opts.result,
      syncAtOnce: discardRows || inTransaction || onlyReads(keyword, sql),
    });
    try {
      c.query(q);
      const res = await q.result;
      const fields = res.fields;
      if (res.rows.length > 0)
        await this.learnTypes(
          c,
          fields.map((f) => f.dataTypeID),
        );
      const conv = fields.map((f) => this.types.get(f.dataTypeID) ?? converterFor(f.dataTypeID));
      return {
        columns: fields.map((f) => f.name),
        rows: res.rows.map((r) => r.map((v, i) => (v === null ? null : conv[i]!(v)))),
        rowsAffected: res.rowCount,
      };
    } catch (err) {
      throw mapPgError(err);
    }
  }

  /**
   * Reads pg_type for column types that are not built in, so that arrays of enums and of other types come back
   * as JSON arrays like built-in ones. Runs on the caller's connection (inside its transaction, if any: the
   * statement before succeeded, so the transaction is usable) once per type.
   */
  private async learnTypes(c: pg.PoolClient, oids: number[]): Promise<void> {
    const unknown = [...new Set(oids)].filter((o) => !isBuiltin(o) && !this.types.has(o));
    if (unknown.length === 0) return;
    const res = await c.query<{ oid: number; typelem: number; typdelim: string; typcategory: string }>({
      text: "SELECT oid::int4 AS oid, typelem::int4 AS typelem, typdelim::text AS typdelim, typcategory::text AS typcategory FROM pg_type WHERE oid = ANY($1::oid[])",
      values: [`{${unknown.join(",")}}`],
    });
    for (const oid of unknown) this.types.set(oid, converterFor(oid));
    for (const r of res.rows) {
      const oid = Number(r.oid);
      if (r.typcategory === "A" && Number(r.typelem) !== 0)
        this.types.set(oid, arrayOf(converterFor(Number(r.typelem)), r.typdelim));
    }
  }

  /** Checks a client out (retrying a refused connection briefly), runs `fn`, and returns it to the pool. */
  private async withClient<T>(fn: (c: pg.PoolClient, markBroken: () => void) => Promise<T>): Promise<T> {
    let c: pg.PoolClient | undefined;
    for (let attempt = 1; !c; attempt++) {
      try {
        c = await this.pool.connect();
      } catch (err) {
        const mapped = mapPgError(err);
        if (attempt >= CONNECT_ATTEMPTS || mapped.kind.status !== 503) throw mapped;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
    let broken = false;
    try {
      return await fn(c, () => (broken = true));
    } catch (err) {
      if (err instanceof SidecarError && err.kind.status === 503) broken = true;
      throw err;
    } finally {
      // A broken connection is destroyed rather than handed to the next caller.
      c.release(broken ? true : undefined);
    }
  }

  /** Ends a session from outside, rolling back its transaction even while a statement is running. */
  private async terminate(c: pg.PoolClient): Promise<void> {
    const pid = (c as unknown as { processID?: number }).processID;
    if (!pid) return;
    const killer = new pg.Client(this.config);
    killer.on("error", () => {});
    try {
      await killer.connect();
      await killer.query("SELECT pg_terminate_backend($1)", [pid]);
    } catch {
      // The statement timeout still bounds the statement if this fails.
    } finally {
      await killer.end().catch(() => {});
    }
  }
}

/** A statement of our own (BEGIN, COMMIT, a probe), with its errors mapped like the caller's. */
async function control(c: pg.PoolClient, sql: string): Promise<void> {
  try {
    await c.query(sql);
  } catch (err) {
    throw mapPgError(err);
  }
}

/** A parameter as the wire carries it: text, or bytes (sent in binary format), or NULL. */
function toPg(v: SqlValue): string | Buffer | null {
  switch (typeof v) {
    case "bigint":
    case "boolean":
    case "string":
      return String(v);
    case "number":
      return String(v);
  }
  if (v === null) return null;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return taggedText(v);
}

/**
 * Statements that write nothing on their own, whose result may be refused after their Sync (one round trip);
 * anything else waits for its result before the Sync that commits it (see postgres-query.ts). A SELECT calling a
 * function that writes is the one thing this cannot see.
 */
function onlyReads(keyword: string, sql: string): boolean {
  if (keyword === "select" || keyword === "values" || keyword === "table" || keyword === "show") return true;
  return keyword === "with" && !/\b(insert|update|delete|merge)\b/i.test(sql);
}

function abortReason(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  return reason instanceof SidecarError
    ? reason
    : sidecarError("REQUEST_TIMEOUT", "the request ended before the transaction committed");
}

/** Native pg errors → catalogue errors. Never includes connection strings. */
export function mapPgError(err: unknown): SidecarError {
  if (err instanceof SidecarError) return err;
  const e = err as { code?: unknown; message?: string; detail?: string; severity?: string };
  const code = typeof e.code === "string" ? e.code : "";
  if (e.severity && /^[0-9A-Z]{5}$/.test(code)) {
    if (UNAVAILABLE_SQLSTATES.has(code))
      return sidecarError("UNAVAILABLE", `postgres is unavailable (SQLSTATE ${code})`, {}, err);
    const extra: Record<string, unknown> = { sqlstate: code };
    if (e.detail) extra.detail = e.detail;
    const message = `${e.message} (SQLSTATE ${code})`;
    if (code === "25006") return sidecarError("FORBIDDEN", `read-only mode: ${message}`, extra, err);
    return sidecarError(code.startsWith("23") ? "SQL_CONFLICT" : "SQL_ERROR", message, extra, err);
  }
  const msg = e.message ?? "";
  if (
    UNAVAILABLE_ERRNOS.has(code) ||
    /Connection terminated|not queryable|timeout exceeded when trying to connect|connect ECONNREFUSED/i.test(msg)
  ) {
    return sidecarError("UNAVAILABLE", "postgres is unreachable", {}, err);
  }
  // pg's own client-side checks (e.g. a parameter it cannot serialise) are about the request.
  if (err instanceof TypeError || err instanceof RangeError) return sidecarError("SQL_ERROR", msg, {}, err);
  return sidecarError("INTERNAL_ERROR", "internal error", {}, err);
}
