/** SQL backends by URL scheme, imported lazily so that SQLite never loads pg and the reverse. */
import { filePath, schemeOf, unsupportedScheme } from "../../shared/url.js";
import type { SqlBackend, SqlBackendOptions } from "./backend.js";

export const SQL_SCHEMES = ["postgres", "postgresql", "sqlite"] as const;

/**
 * Opens the backend a URL names: `postgres://user@host:5432/db` (also `postgresql://`), `sqlite:///abs/file.db`,
 * `sqlite://./relative.db`, `sqlite::memory:`. Postgres connects on first use, so a database that is down
 * does not stop the sidecar from starting.
 */
export async function openSqlBackend(url: string, opts: SqlBackendOptions): Promise<SqlBackend> {
  switch (schemeOf(url)) {
    case "postgres":
    case "postgresql":
      return new (await import("./backends/postgres.js")).PostgresSql(url, opts);
    case "sqlite": {
      const path = /^sqlite::memory:$/i.test(url) || /^sqlite:\/\/:memory:$/i.test(url) ? ":memory:" : filePath(url);
      return (await import("./backends/sqlite.js")).SqliteSql.open(path, opts);
    }
    default:
      throw unsupportedScheme("SQL", url, SQL_SCHEMES);
  }
}
