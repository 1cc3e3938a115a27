/**
 * One statement on a pg connection whose result is bounded while it arrives (`pg.Submittable`, the interface
 * pg-cursor and pg-query-stream are built on). pg's own Query keeps every row of a result before it returns; this
 * asks the server for at most `maxRows + 1` rows (Execute with a row count), keeps rows only while they fit the
 * byte budget, and so never holds more than the limit, however large the result.
 *
 * A result over the limit must also leave nothing behind when the statement ran on its own (autocommit): the
 * rows of an `INSERT … RETURNING` are only read after the insert is done. Such statements are sent without the
 * Sync that would commit them; when the result turns out too large, a deliberately failing Execute goes first,
 * which makes the server roll the implicit transaction back. Statements that only read, and statements inside a
 * caller's transaction (which its owner rolls back), keep the usual single round trip.
 */
import type pg from "pg";
import type { ResultLimits } from "../backend.js";
import { ResultBudget } from "../result-limit.js";

/** The part of pg's connection a Submittable drives (pg's types do not describe it). */
interface Wire {
  parse(q: { text: string }): void;
  bind(b: { values: ReadonlyArray<string | Buffer | null> }): void;
  describe(d: { type: "P"; name: string }): void;
  execute(e: { portal?: string; rows?: number }): void;
  sync(): void;
  flush(): void;
  sendCopyFail(message: string): void;
  stream: { cork?(): void; uncork?(): void };
}

export interface Field {
  name: string;
  dataTypeID: number;
}

export interface RawResult {
  fields: Field[];
  /** Values as the text Postgres printed them (NULL as null). */
  rows: Array<Array<string | null>>;
  rowCount: number;
}

export interface BoundedQueryOptions {
  /** Rows are counted, not kept (execute, batch): no limit applies. */
  discardRows: boolean;
  limits: ResultLimits;
  /** Send Sync with the statement: right for reads and inside transactions; see the module comment. */
  syncAtOnce: boolean;
}

/** A portal that never exists: executing it fails, which aborts the implicit transaction before its Sync. */
const NO_PORTAL = "mikcar_result_too_large";

export class BoundedQuery implements pg.Submittable {
  readonly result: Promise<RawResult>;
  private settle!: { resolve(r: RawResult): void; reject(e: unknown): void };
  private fields: Field[] = [];
  private rows: Array<Array<string | null>> = [];
  private rowCount = 0;
  private readonly budget: ResultBudget;
  private synced = false;

  constructor(
    private readonly text: string,
    private readonly values: ReadonlyArray<string | Buffer | null>,
    private readonly opts: BoundedQueryOptions,
  ) {
    this.budget = new ResultBudget(opts.limits);
    this.result = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
  }

  submit(connection: unknown): void {
    const con = connection as Wire;
    // One write for all five messages, as pg's own Query does.
    con.stream.cork?.();
    try {
      con.parse({ text: this.text });
      con.bind({ values: this.values });
      con.describe({ type: "P", name: "" });
      con.execute({ rows: this.opts.discardRows ? 0 : this.opts.limits.maxRows + 1 });
      if (this.opts.syncAtOnce) this.sync(con);
      else con.flush();
    } finally {
      con.stream.uncork?.();
    }
  }

  handleRowDescription(msg: { fields: Field[] }): void {
    this.fields = msg.fields;
    this.budget.columns(msg.fields.map((f) => f.name));
  }

  handleDataRow(msg: { fields: Array<string | null> }): void {
    if (this.opts.discardRows) return;
    let size = 0;
    for (const v of msg.fields) size += v === null ? 4 : v.length;
    if (this.budget.add(size)) this.rows.push(msg.fields);
  }

  /** The server stopped at our row count: there are more rows than the limit. */
  handlePortalSuspended(connection: unknown): void {
    this.budget.over ??= "rows";
    this.abortUnsynced(connection as Wire);
  }

  handleCommandComplete(msg: { text?: string; command?: string; rowCount?: number }, connection: unknown): void {
    this.rowCount = commandRowCount(msg);
    if (this.budget.over) this.abortUnsynced(connection as Wire);
    else if (!this.synced) this.sync(connection as Wire);
  }

  handleEmptyQuery(connection: unknown): void {
    if (!this.synced) this.sync(connection as Wire);
  }

  handleError(err: unknown, connection: unknown): void {
    // The server ignores everything up to the next Sync after an error; a dead connection is sent nothing.
    if (!this.synced && isServerError(err)) this.sync(connection as Wire);
    this.settle.reject(this.budget.over ? this.budget.error() : err);
  }

  handleReadyForQuery(): void {
    if (this.budget.over) this.settle.reject(this.budget.error());
    else this.settle.resolve({ fields: this.fields, rows: this.rows, rowCount: this.rowCount });
  }

  handleCopyInResponse(connection: unknown): void {
    (connection as Wire).sendCopyFail("COPY FROM STDIN is not supported");
  }

  handleCopyData(): void {}

  private abortUnsynced(con: Wire) {
    if (this.synced) return;
    con.execute({ portal: NO_PORTAL });
    this.sync(con);
  }

  private sync(con: Wire) {
    this.synced = true;
    con.sync();
  }
}

/** Rows a command reports in its tag: "SELECT 5", "INSERT 0 5", "UPDATE 5"; 0 for tags without a count. */
function commandRowCount(msg: { text?: string; rowCount?: number }): number {
  if (typeof msg.rowCount === "number") return msg.rowCount;
  const m = / (\d+)$/.exec(msg.text ?? "");
  return m ? Number(m[1]) : 0;
}

function isServerError(err: unknown): boolean {
  return (
    typeof err === "object" && err !== null && "severity" in err && typeof (err as { code?: unknown }).code === "string"
  );
}
