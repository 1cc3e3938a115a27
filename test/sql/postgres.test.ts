/** The SQL contract on the machine's PostgreSQL, in a schema of its own. */
import pg from "pg";
import { afterAll, describe } from "vitest";
import { createLogger } from "../../src/shared/log.js";
import { DEFAULT_SQL_SETTINGS, sqlInstance } from "../../src/services/sql/index.js";
import { openSqlBackend } from "../../src/services/sql/registry.js";
import { describeSqlContract } from "./contract.js";
import { adminQuery, isolatedSchema, PG_URL, pgAvailable } from "./pg-helpers.js";

const LOCK = 424242;

describe.runIf(pgAvailable)("postgres", () => {
  let drop: (() => Promise<void>) | undefined;
  afterAll(async () => drop?.());

  describeSqlContract(
    "postgres",
    async (s) => {
      const schema = await isolatedSchema();
      drop = schema.drop;
      const settings = { ...DEFAULT_SQL_SETTINGS, ...s };
      return sqlInstance(await openSqlBackend(schema.url, settings), { log: createLogger("silent"), settings });
    },
    {
      intType: "BIGINT",
      undefinedTableState: "42P01",
      blocking: {
        sql: `SELECT pg_advisory_xact_lock(${LOCK})`,
        async hold(fn) {
          const c = new pg.Client({ connectionString: PG_URL });
          await c.connect();
          try {
            await c.query("SELECT pg_advisory_lock($1)", [LOCK]);
            await fn();
            await c.query("SELECT pg_advisory_unlock($1)", [LOCK]);
          } finally {
            await c.end();
          }
        },
        blocked: async () =>
          (
            await adminQuery(
              "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted",
              [LOCK],
            )
          ).rows[0].n === 1,
      },
      types: {
        ddl: `CREATE TABLE types_t (i2 smallint, i4 integer, i8 bigint, n numeric(30,4), f8 double precision, f4 real,
                b boolean, t text, v varchar(10), by bytea, d date, ts timestamp, tstz timestamptz, tm time, iv interval,
                j json, jb jsonb, ia int8[], ta text[], u uuid, nan float8, nl text)`,
        insert: `INSERT INTO types_t VALUES (1, 2, 9223372036854775807, 12345678901234567.1200, 1.5, 0.25, true, 'héllo', 'v',
                '\\x00ff10', '2024-02-29', '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.789+02', '12:34:56', '1 day 2 hours',
                '{"a": [1, 2]}', '{"big": 9223372036854775807}', '{1,NULL,9223372036854775807}', '{"a b","c,d",NULL}',
                'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'NaN', NULL)`,
        expected: {
          i2: 1n,
          i4: 2n,
          i8: 9223372036854775807n,
          n: "12345678901234567.1200",
          f8: 1.5,
          f4: 0.25,
          b: true,
          t: "héllo",
          v: "v",
          by: "AP8Q",
          d: "2024-02-29",
          ts: "2024-02-29T12:34:56.789",
          tstz: "2024-02-29T10:34:56.789+00:00",
          tm: "12:34:56",
          iv: "P1DT2H",
          j: { a: [1, 2] },
          jb: { big: 9223372036854775807n },
          ia: [1, null, 9223372036854775807n],
          ta: ["a b", "c,d", null],
          u: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
          nan: "NaN",
          nl: null,
        },
      },
    },
  );
});
