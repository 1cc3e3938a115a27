/** The machine's PostgreSQL for SQL tests: availability, and a schema of its own per run, dropped afterwards. */
import pg from "pg";
import { backendAvailable, runId } from "../helpers/backends.js";

export const PG_URL = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export const pgAvailable = await backendAvailable("postgres", async () => {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2_000 });
  await c.connect();
  await c.end();
});

/** Creates a fresh schema; returns a URL whose sessions use it, and a function that drops it. */
export async function isolatedSchema(): Promise<{ schema: string; url: string; drop(): Promise<void> }> {
  const schema = runId("sql_");
  await adminQuery(`CREATE SCHEMA ${schema}`);
  const u = new URL(PG_URL);
  u.searchParams.set("options", `-c search_path=${schema}`);
  return { schema, url: u.toString(), drop: () => adminQuery(`DROP SCHEMA ${schema} CASCADE`).then(() => {}) };
}

export async function adminQuery(sql: string, params: unknown[] = []) {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}
