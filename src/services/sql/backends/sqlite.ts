/**
 * SQLite, served by a process of its own that owns the one connection (sqlite-host.ts), so that no statement ever
 * runs on the sidecar's event loop. Statements go one at a time behind an async lock: a transaction (a batch, a
 * script waiting on its sandbox) holds the lock across awaits and other statements queue behind it.
 *
 * The statement timeout is enforced here: a statement that runs past it gets SQLSTATE 57014, as on Postgres, and
 * the host is killed (a running SQLite statement cannot be interrupted any other way) and started again on the
 * same file; a transaction it was in is rolled back by SQLite's journal, and its owner is told so.
 */
import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { SidecarError, sidecarError } from "../../../shared/errors.js";
import { formatDuration } from "../../../shared/units.js";
import type {
  RunOptions,
  SqlBackend,
  SqlBackendOptions,
  SqlResult,
  SqlTx,
  SqlValue,
  TransactionOptions,
} from "../backend.js";
import type { ExecRequest, HostFailure, HostReply, HostRequest } from "./sqlite-host.js";

/** A host that does not report its database open in this time is treated as failed. */
const OPEN_TIMEOUT_MS = 30_000;
/** Time the host gets to close the database (a WAL checkpoint) on close before it is killed. */
const STOP_GRACE_MS = 5_000;

interface Pending {
  resolve(r: SqlResult): void;
  reject(e: unknown): void;
}

/** One host process: the connection, as long as the process lives. */
class Host {
  readonly exited: Promise<void>;
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: SidecarError | undefined;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.on("message", (m: HostReply) => {
      if (m.op !== "result") return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      this.idleUnref();
      if (m.ok) p.resolve(m.result);
      else p.reject(rebuild(m.error));
    });
    child.once("exit", () => this.fail(sidecarError("UNAVAILABLE", "the sqlite process exited")));
    child.on("error", () => this.fail(sidecarError("UNAVAILABLE", "the sqlite process failed")));
  }

  static async start(path: string, opts: SqlBackendOptions): Promise<Host> {
    const [entry, execArgv] = hostEntry();
    const child = fork(entry, [], {
      serialization: "advanced",
      execArgv,
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const host = new Host(child);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(sidecarError("UNAVAILABLE", "the sqlite process did not start")),
          OPEN_TIMEOUT_MS,
        );
        const onMessage = (m: HostReply) => {
          if (m.op !== "opened") return;
          clearTimeout(timer);
          child.off("message", onMessage);
          if (m.ok) resolve();
          else reject(rebuild(m.error));
        };
        child.on("message", onMessage);
        child.once("exit", () => {
          clearTimeout(timer);
          reject(sidecarError("UNAVAILABLE", "the sqlite process exited while opening the database"));
        });
        child.send({ op: "open", path, readonly: opts.readonly, result: opts.result } satisfies HostRequest);
      });
    } catch (err) {
      host.kill();
      throw err;
    }
    host.idleUnref();
    return host;
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  exec(r: Omit<ExecRequest, "op" | "id">): Promise<SqlResult> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<SqlResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // In flight, the channel keeps the process alive; idle, the host must not (library users who never close).
      this.child.channel?.ref();
      this.child.send({ op: "exec", id, ...r } satisfies HostRequest);
    });
  }

  /** Lets the host close the database and exit (it exits when its channel closes); killed if it does not. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.fail(sidecarError("UNAVAILABLE", "the sqlite database is closed"));
      if (this.child.connected) this.child.disconnect();
      const timer = setTimeout(() => this.child.kill("SIGKILL"), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
  }

  /** Ends the process at once; what was in flight fails with `reason`. */
  kill(reason: SidecarError = sidecarError("UNAVAILABLE", "the sqlite process was stopped")): void {
    this.fail(reason);
    this.child.kill("SIGKILL");
  }

  private fail(reason: SidecarError) {
    this.dead ??= reason;
    for (const p of this.pending.values()) p.reject(reason);
    this.pending.clear();
  }

  private idleUnref() {
    if (this.pending.size > 0) return;
    this.child.unref();
    this.child.channel?.unref();
  }
}

export class SqliteSql implements SqlBackend {
  readonly name = "sqlite";
  private tail: Promise<unknown> = Promise.resolve();
  /** Callers inside the lock or waiting for it. */
  private busy = 0;
  /** The host in use; replaced (by `current`) after it was killed. */
  private host: Host;
  private starting: Promise<Host> | undefined;
  private closed = false;

  private constructor(
    private readonly path: string,
    private readonly opts: SqlBackendOptions,
    first: Host,
  ) {
    this.host = first;
  }

  /** Opens the database in a new host process; a database that cannot be opened fails here, at start-up. */
  static async open(path: string, opts: SqlBackendOptions): Promise<SqliteSql> {
    return new SqliteSql(path, opts, await Host.start(path, opts));
  }

  run(sql: string, params: readonly SqlValue[], opts: RunOptions = {}): Promise<SqlResult> {
    return this.locked(async () => {
      const host = await this.current();
      return this.exec(host, {
        sql,
        params: [...params],
        internal: false,
        discardRows: !!opts.discardRows,
        autocommit: true,
        readonly: opts.readonly === true,
      });
    });
  }

  transaction<T>(fn: (tx: SqlTx) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    return this.locked(async () => {
      const { signal } = opts;
      if (signal?.aborted) throw abortReason(signal);
      const host = await this.current();
      // IMMEDIATE takes the write lock up front, so another process cannot make COMMIT fail with SQLITE_BUSY.
      await this.control(host, this.opts.readonly ? "BEGIN DEFERRED" : "BEGIN IMMEDIATE");
      let inFlight = 0;
      // A statement still running when the caller gives up is stopped the only way SQLite allows.
      const onAbort = () => {
        if (inFlight > 0) host.kill(abortReason(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        const result = await fn({
          run: async (sql, params, o = {}) => {
            if (!host.alive) throw rolledBack();
            inFlight++;
            try {
              return await this.exec(host, {
                sql,
                params: [...params],
                internal: false,
                discardRows: !!o.discardRows,
                autocommit: false,
              });
            } finally {
              inFlight--;
            }
          },
        });
        if (signal?.aborted) throw abortReason(signal);
        await this.control(host, "COMMIT");
        return result;
      } catch (err) {
        // A host that was killed took the transaction with it (SQLite rolls it back when the file is next opened).
        if (host.alive) await this.control(host, "ROLLBACK").catch(() => host.kill());
        throw err;
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
    });
  }

  /**
   * Healthy while the host lives: a statement that runs long keeps the host busy but is no outage, so a busy
   * database is not probed (the probe would wait behind it); an idle one runs `SELECT 1`.
   */
  async ping(): Promise<void> {
    if (this.busy > 0 && this.host.alive) return;
    await this.locked(async () => this.control(await this.current(), "SELECT 1"));
  }

  async close(): Promise<void> {
    // Statements already queued (requests still being drained at shutdown) run first.
    for (let t = this.tail; ; t = this.tail) {
      await t.catch(() => {});
      if (t === this.tail) break;
    }
    this.closed = true;
    await this.starting?.catch(() => {});
    await this.host.stop();
  }

  /** Runs `fn` once every earlier caller is done. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    this.busy++;
    const run = () => fn().finally(() => this.busy--);
    const next = this.tail.then(run, run);
    this.tail = next.catch(() => {});
    return next;
  }

  /** The live host, starting a new one (once, however many callers ask) when the last was killed. */
  private current(): Promise<Host> {
    if (this.closed) return Promise.reject(sidecarError("UNAVAILABLE", "the sqlite database is closed"));
    if (this.host.alive) return Promise.resolve(this.host);
    this.starting ??= Host.start(this.path, this.opts)
      .then((h) => (this.host = h))
      .finally(() => (this.starting = undefined));
    return this.starting;
  }

  private control(host: Host, sql: string): Promise<void> {
    return this.exec(host, { sql, params: [], internal: true, discardRows: true, autocommit: false }).then(() => {});
  }

  /** One statement on the host, bounded by the statement timeout. */
  private exec(host: Host, r: Omit<ExecRequest, "op" | "id">): Promise<SqlResult> {
    const ms = this.opts.statementTimeoutMs;
    if (ms <= 0) return host.exec(r);
    const timer = setTimeout(() => host.kill(statementTimeout(ms)), ms);
    return host.exec(r).finally(() => clearTimeout(timer));
  }
}

function rebuild(f: HostFailure): SidecarError {
  return sidecarError(f.kind, f.message, f.extra);
}

/** What Postgres says for the same, so that clients handle one code. */
function statementTimeout(ms: number): SidecarError {
  return sidecarError(
    "SQL_ERROR",
    `canceling statement due to statement timeout (SQLSTATE 57014): it ran longer than ${formatDuration(ms)} (--sql-statement-timeout)`,
    { sqlstate: "57014" },
  );
}

function rolledBack(): SidecarError {
  return sidecarError(
    "SQL_ERROR",
    "the transaction was rolled back: an earlier statement in it was stopped and the database reopened",
    { sqlstate: "40000" },
  );
}

function abortReason(signal: AbortSignal): SidecarError {
  const reason: unknown = signal.reason;
  return reason instanceof SidecarError
    ? reason
    : sidecarError("REQUEST_TIMEOUT", "the request ended before the transaction committed");
}

/**
 * The host's entry. Built code runs sqlite-host.js directly; from TypeScript sources (tests, bench) the child
 * loads tsx first, since the parent's loaders do not apply to it.
 */
function hostEntry(): [string, string[]] {
  if (!import.meta.url.endsWith(".ts")) return [fileURLToPath(new URL("./sqlite-host.js", import.meta.url)), []];
  const pkgPath = createRequire(import.meta.url).resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { exports: Record<string, string> };
  const loader = pathToFileURL(join(dirname(pkgPath), pkg.exports["."]!)).href;
  return [fileURLToPath(new URL("./sqlite-host.ts", import.meta.url)), ["--import", loader]];
}
