/**
 * Postgres going away and coming back: the sidecar reaches the database through a loopback TCP proxy that the
 * test cuts and restores (test/helpers/proxy.ts). Down → 503 UNAVAILABLE with no connection string in the
 * message; back → served again without a restart. The sidecar also starts while the database is down (connections are lazy).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProxy, type CuttableProxy } from "../helpers/proxy.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";
import { isolatedSchema, PG_URL, pgAvailable } from "./pg-helpers.js";

describe.runIf(pgAvailable)("postgres outage", () => {
  let proxy: CuttableProxy;
  let s: RunningSidecar;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const schema = await isolatedSchema();
    drop = schema.drop;
    const target = new URL(PG_URL);
    proxy = await startProxy(Number(target.port || 5432), target.hostname);
    proxy.cut(); // the database is "down" before the sidecar even starts
    const url = new URL(schema.url);
    url.host = `127.0.0.1:${proxy.port}`;
    url.password = "not-shown";
    s = await startSidecar({ services: { sql: url.toString() } });
  });
  afterAll(async () => {
    await s?.close();
    await proxy?.close();
    await drop?.();
  });

  const query = async () => {
    const r = await fetch(`${s.url}/sql/query`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sql: "SELECT 1 AS one" }),
    });
    return { status: r.status, body: await r.text() };
  };

  it("answers 503 while the database is down, and recovers when it is back", async () => {
    const down = await query();
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toMatchObject({ code: "UNAVAILABLE" });
    expect(down.body).not.toMatch(/not-shown|postgres:\/\//);
    proxy.restore();
    expect(await query()).toEqual({ status: 200, body: '{"rows":[{"one":1}],"row_count":1}' });
    proxy.cut();
    expect((await query()).status).toBe(503);
    proxy.restore();
    expect((await query()).status).toBe(200);
  });
});
