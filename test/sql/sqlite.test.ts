/** The SQL contract on SQLite (better-sqlite3), in a temp file. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { createLogger } from "../../src/shared/log.js";
import { DEFAULT_SQL_SETTINGS, sqlInstance } from "../../src/services/sql/index.js";
import { openSqlBackend } from "../../src/services/sql/registry.js";
import { describeSqlContract } from "./contract.js";

const dir = mkdtempSync(join(tmpdir(), "mikcar-sql-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeSqlContract(
  "sqlite",
  async (s) => {
    const settings = { ...DEFAULT_SQL_SETTINGS, ...s };
    const backend = await openSqlBackend(`sqlite://${join(dir, "contract.db")}`, settings);
    return sqlInstance(backend, { log: createLogger("silent"), settings });
  },
  {
    intType: "INTEGER",
    serialTransactions: true,
    types: {
      ddl: "CREATE TABLE types_t (i INTEGER, big INTEGER, r REAL, t TEXT, b BLOB, flag BOOLEAN, doc JSON, n NUMERIC, empty TEXT)",
      insert:
        "INSERT INTO types_t VALUES (42, 9223372036854775807, 1.5, 'héllo', x'00ff10', 1, '{\"a\":[1,2]}', 12.5, NULL)",
      expected: {
        i: 42n,
        big: 9223372036854775807n,
        r: 1.5,
        t: "héllo",
        b: "AP8Q",
        flag: true,
        doc: { a: [1, 2] },
        n: 12.5,
        empty: null,
      },
    },
  },
);
