/**
 * SQL on Postgres: a one-row primary-key SELECT through `/sql/query` beside the same query issued directly with
 * `pg` in the same run (the ratio is the sidecar's overhead), and a 3-query script beside the same 3 queries in
 * a transaction with `pg`.
 */
import pg from "pg";
import { createSidecar } from "../../src/server/create-sidecar.js";
import { createLogger } from "../../src/shared/log.js";
import { load, loop, type BenchRow, type BenchSuite } from "../lib.js";

const PG_URL = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const ROWS = 1_000;
const SCRIPT = `export default function (input) {
  const a = sql.query("SELECT v FROM bench_t WHERE id = $1", [input.id]);
  sql.execute("UPDATE bench_t SET hits = hits + 1 WHERE id = $1", [input.id]);
  const b = sql.query("SELECT hits FROM bench_t WHERE id = $1", [input.id]);
  return { v: a[0].v, hits: b[0].hits };
}`;

const suite: BenchSuite = {
  name: "sql",
  async run({ durationSec }) {
    const schema = `bench_${Date.now().toString(36)}`;
    const admin = new pg.Pool({ connectionString: PG_URL, max: 16 });
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(PG_URL);
    url.searchParams.set("options", `-c search_path=${schema}`);
    const direct = new pg.Pool({ connectionString: url.toString(), max: 10 });
    const sidecar = await createSidecar({ services: { sql: url.toString() }, log: createLogger("silent") });
    try {
      await direct.query("CREATE TABLE bench_t (id int PRIMARY KEY, v text NOT NULL, hits bigint NOT NULL DEFAULT 0)");
      await direct.query("INSERT INTO bench_t (id, v) SELECT g, 'value-' || g FROM generate_series(1, $1) g", [ROWS]);
      const addr = await sidecar.listen({ port: 0, host: "127.0.0.1" });
      let n = 0;
      const id = () => (n++ % ROWS) + 1;
      const rows: BenchRow[] = [];

      const base = await loop(() => direct.query("SELECT id, v FROM bench_t WHERE id = $1", [id()]), durationSec, 32);
      rows.push({
        suite: "sql",
        name: "pg direct: pk select",
        value: base.rps,
        unit: "req/s",
        p50Ms: base.p50Ms,
        p99Ms: base.p99Ms,
      });
      const q = await load({
        url: `http://${addr}/sql/query`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sql: "SELECT id, v FROM bench_t WHERE id = $1", params: [42] }),
        duration: durationSec,
      });
      if (q.errors > 0) throw new Error(`/sql/query had ${q.errors} errors`);
      rows.push({
        suite: "sql",
        name: "/sql/query: pk select",
        value: q.rps,
        unit: "req/s",
        p50Ms: q.p50Ms,
        p99Ms: q.p99Ms,
        baseline: "pg direct: pk select",
      });

      const tx = await loop(
        async () => {
          const c = await direct.connect();
          try {
            const k = id();
            await c.query("BEGIN");
            await c.query("SELECT v FROM bench_t WHERE id = $1", [k]);
            await c.query("UPDATE bench_t SET hits = hits + 1 WHERE id = $1", [k]);
            await c.query("SELECT hits FROM bench_t WHERE id = $1", [k]);
            await c.query("COMMIT");
          } finally {
            c.release();
          }
        },
        durationSec,
        32,
      );
      rows.push({
        suite: "sql",
        name: "pg direct: 3 queries in a transaction",
        value: tx.rps,
        unit: "tx/s",
        p50Ms: tx.p50Ms,
        p99Ms: tx.p99Ms,
      });
      const sc = await load({
        url: `http://${addr}/sql/script`,
        method: "POST",
        headers: { "content-type": "application/json" },
        // Each request its own row, like the pg baseline: on one row every script would wait for the previous
        // one's row lock, and the figure would measure lock hand-over instead of the endpoint.
        requests: [
          { setupRequest: (req) => ({ ...req, body: JSON.stringify({ script: SCRIPT, input: { id: id() } }) }) },
        ],
        duration: durationSec,
        connections: 8,
      });
      if (sc.errors > 0) throw new Error(`/sql/script had ${sc.errors} errors`);
      rows.push({
        suite: "sql",
        name: "/sql/script: 3 queries",
        value: sc.rps,
        unit: "tx/s",
        p50Ms: sc.p50Ms,
        p99Ms: sc.p99Ms,
        baseline: "pg direct: 3 queries in a transaction",
      });
      return rows;
    } finally {
      await sidecar.close();
      await direct.end();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  },
};

export default suite;
