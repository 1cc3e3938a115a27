/** `--sql-readonly` on Postgres: reads work; writes, and attempts to leave the read-only transaction, are refused. */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pb from "../../gen/mikcar/sql/v1/sql_pb.js";
import { toEnvelope } from "../../src/shared/errors.js";
import { createLogger } from "../../src/shared/log.js";
import { DEFAULT_SQL_SETTINGS, sqlInstance } from "../../src/services/sql/index.js";
import { openSqlBackend } from "../../src/services/sql/registry.js";
import { adminQuery, isolatedSchema, pgAvailable } from "./pg-helpers.js";

const ctx = {} as HandlerContext;

describe.runIf(pgAvailable)("postgres read-only mode", () => {
  let inst: ReturnType<typeof sqlInstance>;
  let schema: Awaited<ReturnType<typeof isolatedSchema>>;
  beforeAll(async () => {
    schema = await isolatedSchema();
    await adminQuery(`CREATE TABLE ${schema.schema}.t (id int PRIMARY KEY)`);
    await adminQuery(`INSERT INTO ${schema.schema}.t VALUES (1)`);
    const settings = { ...DEFAULT_SQL_SETTINGS, readonly: true };
    inst = sqlInstance(await openSqlBackend(schema.url, settings), { log: createLogger("silent"), settings });
  });
  afterAll(async () => {
    await inst?.close();
    await schema?.drop();
  });

  const status = async (p: unknown) => {
    try {
      await p;
      return 200;
    } catch (err) {
      return toEnvelope(err).status;
    }
  };

  it("reads, and refuses writes and ways out of the read-only transaction", async () => {
    const r = await inst.impl.query(create(pb.QueryRequestSchema, { sql: "SELECT count(*) AS n FROM t" }), ctx);
    expect(r.rowCount).toBe(1n);
    expect(
      await status(inst.impl.execute(create(pb.ExecuteRequestSchema, { sql: "INSERT INTO t VALUES (2)" }), ctx)),
    ).toBe(403);
    expect(
      await status(inst.impl.execute(create(pb.ExecuteRequestSchema, { sql: "SET transaction_read_only = off" }), ctx)),
    ).toBe(403);
    const escaping = create(pb.BatchRequestSchema, {
      statements: [{ sql: "COMMIT" }, { sql: "INSERT INTO t VALUES (3)" }],
    });
    expect(await status(inst.impl.batch(escaping, ctx))).toBe(403);
    const viaFunction = create(pb.ExecuteRequestSchema, {
      sql: "SELECT set_config('transaction_read_only', 'off', true)",
    });
    expect(await status(inst.impl.execute(viaFunction, ctx))).toBe(400);
    expect((await adminQuery(`SELECT count(*)::int AS n FROM ${schema.schema}.t`)).rows[0].n).toBe(1);
  });
});
