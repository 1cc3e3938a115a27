/**
 * The SQL limit on Postgres: the sidecar's REST paths answered by a `pg` pool of the same size (10) with
 * nothing else — /sql/query and /sql/execute are one pool query (array rows, as the sidecar asks for them),
 * /sql/batch is BEGIN, the statements, COMMIT on one connection, and /sql/script runs the bench's script as the
 * same three queries in a transaction (a bare server cannot run scripts; this is what the script does).
 */
import pg from "pg";
import { isMain, serve, type Limit, type LimitRoute } from "./serve.js";

interface Statement {
  sql: string;
  params?: unknown[];
}

export const SCRIPT_QUERIES = {
  read: "SELECT v FROM bench_t WHERE id = $1",
  bump: "UPDATE bench_t SET hits = hits + 1 WHERE id = $1",
  hits: "SELECT hits FROM bench_t WHERE id = $1",
};

export async function open(url: string): Promise<Limit> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on("error", () => {});

  const query = async (s: Statement) => {
    const r = await pool.query({ text: s.sql, values: s.params ?? [], rowMode: "array" });
    const names = r.fields.map((f) => f.name);
    const rows = r.rows.map((row: unknown[]) => Object.fromEntries(names.map((n, i) => [n, row[i]])));
    return { rows, row_count: r.rowCount ?? rows.length };
  };
  const execute = async (s: Statement) => ({
    rows_affected: (await pool.query({ text: s.sql, values: s.params ?? [] })).rowCount ?? 0,
  });
  async function transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await pool.connect();
    try {
      await c.query("BEGIN");
      const out = await fn(c);
      await c.query("COMMIT");
      return out;
    } catch (err) {
      await c.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }
  const batch = (statements: Statement[]) =>
    transaction(async (c) => {
      let total = 0;
      for (const s of statements) total += (await c.query({ text: s.sql, values: s.params ?? [] })).rowCount ?? 0;
      return { statements_executed: statements.length, status: "ok", total_rows_affected: total };
    });
  const script = (id: number) =>
    transaction(async (c) => {
      const a = await c.query(SCRIPT_QUERIES.read, [id]);
      await c.query(SCRIPT_QUERIES.bump, [id]);
      const b = await c.query(SCRIPT_QUERIES.hits, [id]);
      return { result: { v: a.rows[0].v, hits: b.rows[0].hits }, queries_executed: 3 };
    });

  const json = (body: Buffer) => JSON.parse(body.toString()) as Record<string, unknown>;
  const routes: LimitRoute[] = [
    {
      method: "POST",
      prefix: "/sql/query",
      handle: async ({ body }) => ({ json: await query(json(body) as unknown as Statement) }),
    },
    {
      method: "POST",
      prefix: "/sql/execute",
      handle: async ({ body }) => ({ json: await execute(json(body) as unknown as Statement) }),
    },
    {
      method: "POST",
      prefix: "/sql/batch",
      handle: async ({ body }) => ({ json: await batch(json(body).statements as Statement[]) }),
    },
    {
      method: "POST",
      prefix: "/sql/script",
      handle: async ({ body }) => ({ json: await script((json(body).input as { id: number }).id) }),
    },
  ];
  return {
    routes,
    direct: {
      query: (i) => query({ sql: "SELECT id, v FROM bench_t WHERE id = $1", params: [i] }),
      execute: (i) => execute({ sql: SCRIPT_QUERIES.bump, params: [i] }),
      batch: (i) => batch(batchOf(i)),
      script: (i) => script(i),
    },
    close: () => pool.end(),
  };
}

/** The bench's batch: five inserts into the log table. */
export function batchOf(i: number | string): Statement[] {
  return Array.from({ length: 5 }, (_, k) => ({ sql: "INSERT INTO bench_log (k, n) VALUES ($1, $2)", params: [i, k] }));
}

if (isMain(import.meta.url)) await serve(open);
