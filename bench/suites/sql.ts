/**
 * SQL on Postgres over REST: /sql/query (one-row primary-key SELECT), /sql/execute (one-row UPDATE), /sql/batch
 * (five INSERTs in one transaction) and /sql/script (three queries in one transaction), each against its limit
 * (bench/limits/sql.ts: the same statements from a `pg` pool of the same size behind a bare node:http server)
 * and the `pg` calls alone. Every request names its own row, so no two wait on one row lock.
 */
import pg from "pg";
import { measure, type BenchRow, type BenchSuite } from "../lib.js";
import { batchOf, SCRIPT_QUERIES } from "../limits/sql.js";
import { startBenchProcess, startSidecarProcess } from "../servers.js";

const PG_URL = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const ROWS = 1_000;
const SCRIPT = `export default function (input) {
  const a = sql.query(${JSON.stringify(SCRIPT_QUERIES.read)}, [input.id]);
  sql.execute(${JSON.stringify(SCRIPT_QUERIES.bump)}, [input.id]);
  const b = sql.query(${JSON.stringify(SCRIPT_QUERIES.hits)}, [input.id]);
  return { v: a[0].v, hits: b[0].hits };
}`;

const json = { "content-type": "application/json" };
/** A JSON body with the key number where `"{i}"` stands (as a number, not a string). */
const keyed = (v: unknown) => JSON.stringify(v).replaceAll('"{i}"', "{i}");

const suite: BenchSuite = {
  name: "sql",
  async run({ durationSec, connections }) {
    const schema = `bench_${Date.now().toString(36)}`;
    const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(PG_URL);
    url.searchParams.set("options", `-c search_path=${schema}`);
    const rows: Array<BenchRow | undefined> = [];
    try {
      await admin.query(
        `CREATE TABLE ${schema}.bench_t (id int PRIMARY KEY, v text NOT NULL, hits bigint NOT NULL DEFAULT 0)`,
      );
      await admin.query(`CREATE TABLE ${schema}.bench_log (k int NOT NULL, n int NOT NULL)`);
      await admin.query(`INSERT INTO ${schema}.bench_t (id, v) SELECT g, 'value-' || g FROM generate_series(0, $1) g`, [
        ROWS - 1,
      ]);
      const limit = await startBenchProcess("./limits/sql.ts", [url.toString()]);
      const side = await startSidecarProcess(["--sql", "--sql-url", url.toString()]);
      try {
        const cases = [
          {
            name: "/sql/query pk select",
            op: "query",
            body: keyed({ sql: "SELECT id, v FROM bench_t WHERE id = $1", params: ["{i}"] }),
            path: "/sql/query",
          },
          {
            name: "/sql/execute update",
            op: "execute",
            body: keyed({ sql: SCRIPT_QUERIES.bump, params: ["{i}"] }),
            path: "/sql/execute",
          },
          { name: "/sql/batch of 5", op: "batch", body: keyed({ statements: batchOf("{i}") }), path: "/sql/batch" },
          {
            name: "/sql/script 3 queries",
            op: "script",
            body: keyed({ script: SCRIPT, input: { id: "{i}" } }),
            path: "/sql/script",
          },
        ];
        for (const conns of connections) {
          for (const c of cases) {
            rows.push(
              await measure({
                suite: "sql",
                name: c.name,
                unit: c.op === "query" || c.op === "execute" ? "req/s" : "tx/s",
                connections: conns,
                durationSec,
                limit: limit,
                sidecar: side,
                goal: c.op === "script" ? 0.5 : 0.8,
                load: { keys: ROWS, steps: [{ method: "POST", path: c.path, headers: json, body: c.body }] },
                direct: { service: "sql", backend: url.toString(), op: c.op },
              }),
            );
          }
        }
      } finally {
        await side.stop();
        await limit.stop();
      }
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
    return rows;
  },
};

export default suite;
