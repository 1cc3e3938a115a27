/** Postgres column types that are not built in (enums, their arrays, arrays of other types) come back as JSON. */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pb from "../../gen/mikcar/sql/v1/sql_pb.js";
import { createLogger } from "../../src/shared/log.js";
import { DEFAULT_SQL_SETTINGS, sqlInstance } from "../../src/services/sql/index.js";
import { openSqlBackend } from "../../src/services/sql/registry.js";
import { rowObjects, valueOfPb } from "../../src/services/sql/values.js";
import { adminQuery, isolatedSchema, pgAvailable } from "./pg-helpers.js";

const ctx = {} as HandlerContext;

describe.runIf(pgAvailable)("postgres arrays of any type", () => {
  let inst: ReturnType<typeof sqlInstance>;
  let schema: Awaited<ReturnType<typeof isolatedSchema>>;
  beforeAll(async () => {
    schema = await isolatedSchema();
    await adminQuery(`CREATE TYPE ${schema.schema}.mood AS ENUM ('happy', 'so "so"', 'sad')`);
    const settings = { ...DEFAULT_SQL_SETTINGS };
    inst = sqlInstance(await openSqlBackend(schema.url, settings), { log: createLogger("silent"), settings });
  });
  afterAll(async () => {
    await inst?.close();
    await schema?.drop();
  });

  const query = async (sql: string) => {
    const r = await inst.impl.query(create(pb.QueryRequestSchema, { sql }), ctx);
    return rowObjects(
      r.columns ?? [],
      (r.rows ?? []).map((row) => (row.values ?? []).map((v) => valueOfPb(v))),
    );
  };

  it("reads enum arrays, and arrays of types without a built-in mapping, as JSON arrays", async () => {
    const [row] = await query(`SELECT 'sad'::mood AS one, ARRAY['happy', 'so "so"', NULL]::mood[] AS moods,
      ARRAY['ab']::name[] AS names, ARRAY[box(point(1,2), point(3,4)), box(point(0,0), point(1,1))] AS boxes,
      ARRAY[int4range(1, 5)] AS ranges, '{{1,2},{3,4}}'::int4[] AS grid`);
    expect(row).toEqual({
      one: "sad",
      moods: ["happy", 'so "so"', null],
      names: ["ab"],
      boxes: ["(3,4),(1,2)", "(1,1),(0,0)"],
      ranges: ["[1,5)"],
      grid: [
        [1, 2],
        [3, 4],
      ],
    });
    // Again, from the remembered types, and inside a transaction (a script).
    expect((await query("SELECT ARRAY['sad']::mood[] AS m"))[0]).toEqual({ m: ["sad"] });
    const s = await inst.impl.script(
      create(pb.ScriptRequestSchema, { script: "sql.query(\"SELECT ARRAY['happy']::mood[] AS m\")[0].m" }),
      ctx,
    );
    expect(JSON.parse(s.resultJson ?? "null")).toEqual(["happy"]);
  });
});
