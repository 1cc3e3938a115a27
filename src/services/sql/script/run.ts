/**
 * One script request: a worker from the pool, one transaction, the script's SQL calls run inside it. Any
 * failure — a throw, a failed statement (even one the script caught: Postgres has already aborted the
 * transaction), a limit — rolls back and becomes SCRIPT_ERROR naming the reason and the failing query.
 */
import { SidecarError, sidecarError } from "../../../shared/errors.js";
import { parseExact, stringifyExact } from "../../../shared/exact-json.js";
import type { RunOptions, SqlBackend, SqlTx, SqlValue } from "../backend.js";
import { rowObjects, valueOfJson } from "../values.js";
import { ScriptFailure, type ScriptPool } from "./pool.js";
import type { ScriptLimits } from "./protocol.js";

interface FailedQuery {
  index: number;
  sql: string;
  error: SidecarError;
}

export async function runScript(
  backend: SqlBackend,
  pool: ScriptPool,
  code: string,
  inputJson: string,
  /** The request's: once it aborts (408, client gone) the script is dropped from the queue or stopped, and its
   * transaction never commits. */
  signal?: AbortSignal,
): Promise<{ resultJson: string; queries: number }> {
  let input: unknown = null;
  if (inputJson !== "") {
    try {
      input = parseExact(inputJson);
    } catch (err) {
      throw sidecarError("BAD_REQUEST", `input_json is not valid JSON: ${(err as Error).message}`);
    }
  }
  const lease = await pool.acquire(signal);
  let queries = 0;
  let inFlight = 0;
  let failed: FailedQuery | undefined;
  const abort = new AbortController();
  // The request ending ends the transaction with it, a statement in flight included.
  const onRequestEnd = () => abort.abort(signal!.reason);
  signal?.addEventListener("abort", onRequestEnd, { once: true });
  // The transaction starts with the first statement, so a script that is still computing holds no connection
  // (and, on SQLite, does not block other statements).
  const tx = lazyTransaction(backend, abort.signal);
  try {
    let value: unknown;
    try {
      // The worker is given back as soon as the script has run: COMMIT or ROLLBACK is the database's work, and
      // holding the worker through that round trip left it idle for ~1 ms per script under load.
      value = await lease
        .run(
          code,
          input,
          async (op, sql, params) => {
            const index = queries++;
            if (failed)
              throw new Error(
                `query ${index} was not run: query ${failed.index} already failed and the transaction is aborted`,
              );
            inFlight++;
            try {
              const values = params.map((p, i) => valueOfJson(p, `params[${i}]`));
              const r = await tx.run(sql, values, { discardRows: op === "execute" });
              return op === "query" ? rowObjects(r.columns, r.rows) : r.rowsAffected;
            } catch (err) {
              const error = err instanceof SidecarError ? err : sidecarError("SQL_ERROR", (err as Error).message);
              failed ??= { index, sql, error };
              throw error;
            } finally {
              inFlight--;
            }
          },
          signal,
        )
        .finally(() => lease.release());
      if (failed) {
        throw new ScriptFailure(
          "error",
          `query ${failed.index} failed and the script caught the error: ${failed.error.rawMessage}`,
        );
      }
    } catch (err) {
      // A statement still running when time is up is stopped by ending its session.
      if (err instanceof ScriptFailure && err.reason === "timeout" && inFlight > 0) abort.abort();
      await tx.end(false).catch(() => {});
      throw err;
    }
    // The script finished after its request was answered: nothing it did may stay.
    if (signal?.aborted) {
      await tx.end(false).catch(() => {});
      throw new ScriptFailure("cancelled", "the request ended before the script did");
    }
    await tx.end(true);
    return { resultJson: stringifyExact(value ?? null), queries };
  } catch (err) {
    throw scriptError(err, failed, pool.limits);
  } finally {
    signal?.removeEventListener("abort", onRequestEnd);
    lease.release();
  }
}

function scriptError(err: unknown, failed: FailedQuery | undefined, limits: ScriptLimits): unknown {
  // Nobody is waiting for this answer any more (the request got its 408); it only reaches the logs.
  if (err instanceof ScriptFailure && err.reason === "cancelled") {
    return sidecarError("REQUEST_TIMEOUT", `${err.message}; it was stopped and rolled back`, { reason: "cancelled" });
  }
  // The database being down is not the script's fault: report it as such.
  if (failed?.error.kind.status === 503) return failed.error;
  if (!(err instanceof ScriptFailure)) {
    if (err instanceof SidecarError && err.kind.status === 503) return err;
    if (!(err instanceof SidecarError)) return err;
  }
  const reason = err instanceof ScriptFailure ? err.reason : "error";
  let message = (err as Error).message;
  if (reason === "timeout") message = `script exceeded the time limit of ${limits.timeMs} ms`;
  if (reason === "memory")
    message = `script exceeded the memory limit of ${Math.round(limits.memoryBytes / 1048576)} MiB (${message})`;
  if (reason === "stack") message = `script exceeded the stack limit: recursion too deep (${message})`;
  const extra: Record<string, unknown> = { reason };
  if (failed) {
    extra.query_index = failed.index;
    extra.query = failed.sql;
    if (typeof failed.error.extra.sqlstate === "string") extra.sqlstate = failed.error.extra.sqlstate;
  }
  return sidecarError("SCRIPT_ERROR", message, extra, err);
}

const ROLLBACK = Symbol("rollback");

/**
 * `backend.transaction` turned inside out: begun by the first `run`, ended by `end(commit)`. Nothing happens
 * on the database when no statement ran. `end` may come before the transaction has begun (a script stopped
 * while its first statement waited for the database): the transaction then ends as soon as it begins, rather
 * than holding its connection, or SQLite's lock, forever.
 */
function lazyTransaction(backend: SqlBackend, signal: AbortSignal) {
  let started: Promise<SqlTx> | undefined;
  let outcome: boolean | undefined;
  let finish: ((commit: boolean) => void) | undefined;
  let done: Promise<unknown> = Promise.resolve();
  const start = () =>
    (started ??= new Promise<SqlTx>((resolveTx, rejectTx) => {
      done = backend
        .transaction(
          (tx) =>
            new Promise((resolve, reject) => {
              finish = (commit) => (commit ? resolve(undefined) : reject(ROLLBACK));
              if (outcome === undefined) resolveTx(tx);
              else {
                rejectTx(new Error("the script ended before its first statement ran"));
                finish(outcome);
              }
            }),
          { signal },
        )
        .catch((err) => {
          rejectTx(err);
          if (err !== ROLLBACK) throw err;
        });
      // Awaited by end(); until then a failed BEGIN must not count as an unhandled rejection.
      done.catch(() => {});
    }));
  return {
    run: async (sql: string, params: SqlValue[], opts?: RunOptions) => (await start()).run(sql, params, opts),
    async end(commit: boolean) {
      if (!started) return;
      outcome = commit;
      finish?.(commit);
      await done;
    },
  };
}
