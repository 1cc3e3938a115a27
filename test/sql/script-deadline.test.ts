/**
 * A script whose request has been answered 408 must leave nothing behind: one still waiting for a worker is
 * dropped from the queue, one running is stopped and rolled back when its request ends. The reproduction
 * (`--request-timeout 5s --sql-script-timeout 2000 --sql-script-workers 1`, three runaway scripts, then one that
 * inserts) with smaller times, on SQLite and on Postgres, over REST and Connect.
 *
 * Each test ends with a fence: a trivial script on the same single worker, which (FIFO) runs only after whatever
 * was queued or running before it, so the count that follows sees what those scripts left.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqlService } from "../../gen/mikcar/sql/v1/sql_pb.js";
import { parseExact } from "../../src/shared/exact-json.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";
import { isolatedSchema, pgAvailable } from "./pg-helpers.js";

const dir = mkdtempSync(join(tmpdir(), "mikcar-sql-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backends: Array<[string, boolean, () => Promise<{ url: string; drop?: () => Promise<void> }>]> = [
  ["sqlite", true, async () => ({ url: `sqlite://${join(dir, "deadline.db")}` })],
  ["postgres", pgAvailable, () => isolatedSchema()],
];

/** Inserts, then computes past its request's timeout (within its own time limit) and would then commit. */
const slowInsert = (id: number) =>
  `sql.execute('INSERT INTO t VALUES (${id})'); const end = Date.now() + 3000; while (Date.now() < end) {} 'done'`;

describe.each(backends)("scripts answered 408 on %s", (name, available, open) => {
  /** Runaway scripts stop after 400 ms; requests time out after 1 s. */
  let queued: RunningSidecar;
  /** Scripts may run 5 s; requests time out after 2 s. */
  let running: RunningSidecar;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    if (!available) return;
    const db = await open();
    drop = db.drop;
    queued = await startSidecar({
      services: { sql: db.url },
      limits: { requestTimeoutMs: 1_000 },
      serviceOptions: { sql: { "script-timeout": "400ms", "script-workers": 1 } },
    });
    running = await startSidecar({
      services: { sql: db.url },
      limits: { requestTimeoutMs: 2_000 },
      serviceOptions: { sql: { "script-timeout": "5s", "script-workers": 1 } },
    });
    await post(queued, "/execute", { sql: "CREATE TABLE t (id INTEGER)" });
  });
  afterAll(async () => {
    await Promise.all([queued?.close(), running?.close()]);
    await drop?.();
  });

  async function post(s: RunningSidecar, path: string, body: unknown) {
    const r = await fetch(`${s.url}/sql${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: r.status, body: parseExact(await r.text()) as Record<string, unknown> };
  }
  const count = async () => (await post(queued, "/query", { sql: "SELECT count(*) AS n FROM t" })).body.rows;
  /** A trivial script that got its 408 while waiting was dropped and is simply sent again (a worker that was
   * stopped is replaced first, which can take a while on a loaded machine). */
  const fence = async (s: RunningSidecar) => {
    for (let i = 0; i < 5; i++) if ((await post(s, "/script", { script: "1" })).status === 200) return;
    throw new Error("no worker ran the fence script");
  };

  it.runIf(available)("never runs a script that timed out while it waited for the worker", async () => {
    const runaways = [1, 2, 3].map(() => post(queued, "/script", { script: "while (true) {}" }));
    // Queued behind 3 × 400 ms of runaway scripts: its request times out (1 s) before the worker is free.
    const insert = await post(queued, "/script", { script: "sql.execute('INSERT INTO t VALUES (1)'); 'inserted'" });
    expect(insert).toMatchObject({ status: 408, body: { code: "REQUEST_TIMEOUT" } });
    await Promise.all(runaways);
    await fence(queued);
    expect(await count()).toEqual([{ n: 0 }]);
  });

  it.runIf(available)("rolls back a running script when its request times out", async () => {
    const r = await post(running, "/script", { script: slowInsert(2) });
    expect(r).toMatchObject({ status: 408, body: { code: "REQUEST_TIMEOUT" } });
    await fence(running);
    expect(await count()).toEqual([{ n: 0 }]);
  });

  it.runIf(available)("rolls back a running script when its RPC deadline passes", async () => {
    const client = createClient(SqlService, createConnectTransport({ baseUrl: running.url, httpVersion: "1.1" }));
    const err = await client.script({ script: slowInsert(3) }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.DeadlineExceeded);
    await fence(running);
    expect(await count()).toEqual([{ n: 0 }]);
  });

  it.runIf(available && name === "sqlite")(
    "stops a script whose client went away while its first statement waited for the one SQLite connection (SQLite only: Postgres statements do not wait for each other)",
    async () => {
      const db = `sqlite://${join(dir, "deadline.db")}`;
      const pair = await startSidecar({ services: { sql: db }, serviceOptions: { sql: { "script-workers": 2 } } });
      try {
        // A holds SQLite's one connection in its transaction for a while; B's first statement waits behind it, and
        // B's client goes away meanwhile.
        const a = post(pair, "/script", { script: slowInsert(4).replace("3000", "1500") });
        await new Promise((r) => setTimeout(r, 200));
        const b = await fetch(`${pair.url}/sql/script`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ script: "sql.execute('INSERT INTO t VALUES (5)'); 'b'" }),
          signal: AbortSignal.timeout(300),
        }).then(
          () => "answered",
          () => "gone",
        );
        expect(b).toBe("gone");
        expect(await a).toMatchObject({ status: 200, body: { result: "done" } });
        // B's transaction, begun once A's ended, was ended at once: the database serves the next statement.
        expect(await post(pair, "/query", { sql: "SELECT id FROM t WHERE id >= 4 ORDER BY id" })).toMatchObject({
          status: 200,
          body: { rows: [{ id: 4 }] },
        });
      } finally {
        await pair.close();
      }
      await post(queued, "/execute", { sql: "DELETE FROM t" });
    },
  );
});
