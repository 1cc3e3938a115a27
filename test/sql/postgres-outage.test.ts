/**
 * Postgres going away and coming back: the sidecar reaches the database through a loopback TCP proxy that the
 * test closes and reopens. Down → 503 UNAVAILABLE with no connection string in the message; back → served
 * again without a restart. The sidecar also starts while the database is down (connections are lazy).
 */
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";
import { isolatedSchema, PG_URL, pgAvailable } from "./pg-helpers.js";

class Proxy {
  private server?: net.Server;
  private sockets = new Set<net.Socket>();
  constructor(readonly port: number) {}
  static async free(): Promise<number> {
    const s = net.createServer().listen(0, "127.0.0.1");
    await new Promise((r) => s.once("listening", r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    return port;
  }
  async open(target: URL) {
    this.server = net.createServer((client) => {
      const up = net.connect(Number(target.port || 5432), target.hostname);
      for (const s of [client, up]) {
        this.sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => this.sockets.delete(s));
      }
      client.pipe(up).pipe(client);
    });
    this.server.listen(this.port, "127.0.0.1");
    await new Promise((r) => this.server!.once("listening", r));
  }
  async close() {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => (this.server ? this.server.close(r) : r(undefined)));
  }
}

describe.runIf(pgAvailable)("postgres outage", () => {
  let proxy: Proxy;
  let s: RunningSidecar;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const schema = await isolatedSchema();
    drop = schema.drop;
    proxy = new Proxy(await Proxy.free());
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
    await proxy.open(new URL(PG_URL));
    expect(await query()).toEqual({ status: 200, body: '{"rows":[{"one":1}],"row_count":1}' });
    await proxy.close();
    expect((await query()).status).toBe(503);
    await proxy.open(new URL(PG_URL));
    expect((await query()).status).toBe(200);
  });
});
